"""``fieldsolve`` command line: run, validate, info, plot, schema.

Exit status: 0 success; 2 invalid config or input (everything that can be checked is checked
before anything is written); 1 failure during a run (the traceback is in the run's log.txt);
130/143 a run stopped by SIGINT/SIGTERM (after writing a checkpoint once the run has started;
continue with ``fieldsolve run --resume DIR``). Every failure is one line on stderr; no
traceback is printed unless ``--debug`` (``-v``) is given.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_INVALID = 0, 1, 2
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default is also 2)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _add_set(p):
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (parsed as YAML), e.g. --set time.dt=1e-3; repeatable")


def _cmd_run(args):
    from .runs import run

    if args.dry_run:
        if args.config is None:
            from .config import ConfigError

            raise ConfigError("--dry-run needs a config")
        return _cmd_validate(args)
    config = Path(args.config) if args.config is not None else None
    out = args.out
    if args.resume is not None:
        out = args.resume or out
        if out is None and config is not None and config.is_dir():
            out, config = config, None
    res = run(config, out=out, overrides=args.overrides, overwrite=args.overwrite,
              resume=args.resume is not None, progress=False if args.no_progress else None,
              stop_after=args.stop_after, echo=not args.quiet, force=args.force)
    if args.quiet:  # otherwise the summary was already logged to stdout
        print(res.summary())
    if res.interrupted in EXIT_SIGNAL:
        return EXIT_SIGNAL[res.interrupted]
    return EXIT_OK


def _cmd_validate(args):
    from .config import ConfigError, dump_config, load_config
    from .inputs import preflight
    from .parallel import mpi
    from .resources import human_bytes as _h

    cfg = load_config(Path(args.config), args.overrides)
    ranks = args.ranks if args.ranks is not None else mpi.size(mpi.world())
    if ranks < 1:
        raise ConfigError(f"--ranks {ranks}: must be >= 1")
    _, mem, notes = preflight(cfg, args.out, force=args.force, strict=False, ranks=ranks)
    sys.stdout.write(dump_config(cfg))
    limit = (f"limit {_h(mem['limit_bytes'])} ({mem['limit']})" if mem["limit_bytes"] is not None
             else mem["limit"])
    per = f" per rank on {ranks} MPI ranks ({_h(ranks * mem['run_bytes'])} in all)" if ranks > 1 else ""
    print(f"# valid {cfg.kind} config; particles: {mem['particles']}{' per rank' if ranks > 1 else ''}; "
          f"estimated memory: {_h(mem['run_bytes'])} for the run{per} (largest part: {mem['largest']}; "
          f"{limit}); per snapshot: {_h(mem['snapshot_bytes'])}")
    for note in notes:
        print(f"# note: {note}")
    return EXIT_OK


def _describe_h5(path: Path) -> list:
    import h5py
    import numpy as np

    from .files import open_h5

    lines = []
    with open_h5(path) as f:
        if "openPMD" in f.attrs:
            its = sorted(int(k) for k in f["data"].keys())
            lines.append(f"{path}: openPMD {f.attrs['openPMD'].decode()} ({f.attrs['iterationEncoding'].decode()}), "
                         f"iterations {its}")
            for it in its:
                g = f[f"data/{it}"]
                lines.append(f"  iteration {it}: t = {g.attrs['time']:.6g}, dt = {g.attrs['dt']:.6g}")
                for name, rec in (g["meshes"].items() if "meshes" in g else []):
                    shape = rec.shape if isinstance(rec, h5py.Dataset) else f"{len(rec)} x {next(iter(rec.values())).shape}"
                    data = rec[()] if isinstance(rec, h5py.Dataset) else np.stack([c[()] for c in rec.values()])
                    labels = [a.decode() for a in rec.attrs["axisLabels"]]
                    lines.append(f"    mesh {name}: shape {shape} {labels}, spacing "
                                 f"{np.round(rec.attrs['gridSpacing'], 6).tolist()}, min {data.min():.4g}, "
                                 f"max {data.max():.4g}, dtype {data.dtype}")
                for name, sp in (g["particles"].items() if "particles" in g else []):
                    n = sp["id"].shape[0] if "id" in sp else "?"
                    lines.append(f"    species {name}: {n} particles, records {sorted(sp.keys())}")
            if "fieldsolve/provenance_json" in f:
                import json

                prov = json.loads(f["fieldsolve/provenance_json"][()].decode())
                lines.append(f"  written by fieldsolve {prov.get('fieldsolve_version')} "
                             f"({prov.get('git_describe')}), config sha256 {str(prov.get('config_sha256'))[:12]}")
        elif "state" in f and "meta_json" in f:
            import json

            meta = json.loads(f["meta_json"][()].decode())
            lines.append(f"{path}: checkpoint of a {meta.get('kind')} run at step {meta.get('step')}, "
                         f"t = {meta.get('time'):.6g}; arrays {sorted(f['state'].keys())}")
        else:
            lines.append(f"{path}: HDF5 with datasets:")
            for k, v in f.items():
                if isinstance(v, h5py.Dataset):
                    last = v[-1] if v.shape and v.shape[0] else v[()]
                    lines.append(f"  {k}: shape {v.shape}, last {np.round(last, 8).tolist()}")
                else:
                    lines.append(f"  {k}/ (group)")
    return lines


def _describe_dir(path: Path) -> list:
    from .config import ConfigError, load_config
    from .files import read_timeseries

    cfg = path / "config.resolved.yaml"
    if not cfg.exists():
        raise ConfigError(f"{path}: not a fieldsolve run directory (no config.resolved.yaml)")
    c = load_config(cfg)
    snaps = sorted((path / "diags" / "fields").glob("fs_*.h5"))
    lines = [f"run directory {path}: kind {c.kind}, name {c.name}, grid {c.grid.shape}, {len(snaps)} snapshot(s)"]
    latest = path / "checkpoints" / "latest"
    if latest.exists():
        lines.append(f"  latest checkpoint: {latest.read_text(errors='replace').strip()}")
    ts = path / "timeseries.h5"
    if ts.exists():
        d = read_timeseries(ts)
        e = d["total_energy"]
        lines.append(f"  steps {int(d['step'][-1])}, t = {d['time'][-1]:.6g}, total energy {e[-1]:.8g}, "
                     f"relative energy change {(e[-1] - e[0]) / abs(e[0]) if e[0] else float('nan'):.3e}")
    if snaps:
        lines += _describe_h5(snaps[-1])
    return lines


def describe(path) -> str:
    """What ``fieldsolve info`` prints; ConfigError (one line) for anything it cannot read."""
    from .config import ConfigError
    from .files import ReadError

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    try:
        return "\n".join(_describe_dir(path) if path.is_dir() else _describe_h5(path))
    except (ConfigError, ReadError):
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ConfigError(f"{path}: not laid out as a fieldsolve run directory or file "
                          f"({type(exc).__name__}: {exc})") from None


def _cmd_info(args):
    print(describe(args.path))
    return EXIT_OK


def _cmd_plot(args):
    from .config import ConfigError
    from .plots import available, make_plots

    if args.list:
        for name, desc in available().items():
            print(f"{name:20s} {desc}")
        return EXIT_OK
    if args.path is None:
        raise ConfigError("plot needs a PATH (or --list)")
    path = Path(args.path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    try:
        paths = make_plots(path, args.out, only=args.only or None)
    except ValueError as exc:  # not HDF5, unknown plot, a damaged file (io.ReadError)
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        if args.out and exc.filename is not None and str(args.out) in str(exc.filename):
            raise ConfigError(f"--out {args.out}: cannot write the plots ({exc.strerror or exc})") from None
        raise ConfigError(f"{path}: cannot read ({exc}); truncated or damaged?") from None
    except KeyError as exc:
        raise ConfigError(f"{path}: not a fieldsolve run directory, snapshot or time series this command "
                          f"can plot ({exc})") from None
    if not paths:
        raise ConfigError(f"{path}: nothing to plot (need a run directory, a snapshot or timeseries.h5)")
    for p in paths:
        print(p)
    return EXIT_OK


def _cmd_schema(args):
    from .config import config_reference_markdown, config_schema

    text = config_reference_markdown() if args.markdown else json.dumps(config_schema(), indent=1)
    if args.out:
        from .config import ConfigError
        from .files import WriteError, atomic_write_text

        try:
            atomic_write_text(args.out, text + "\n")
        except WriteError as exc:
            raise ConfigError(f"--out {args.out}: {exc}") from None
        print(args.out)
    else:
        print(text)
    return EXIT_OK


def _add_debug(p, default):
    p.add_argument("-v", "--debug", action="store_true", default=default,
                   help="on failure also print the traceback (it is always in a run's log.txt)")


def build_parser():
    parser = _Parser(prog="fieldsolve", description="Config-driven particle-mesh, PIC, Poisson and LES runs.")
    _add_debug(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a config (YAML) into a run directory")
    p.add_argument("config", nargs="?", help="YAML config (omit with --resume DIR)")
    p.add_argument("--out", help="run directory (default runs/<name>)")
    _add_set(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--resume", nargs="?", const="", metavar="DIR",
                   help="continue the run in DIR from its latest checkpoint; with a later time.t_end or "
                   "more time.steps, extend a finished run (bitwise as if run straight)")
    p.add_argument("--stop-after", type=int, metavar="N", help="stop with a checkpoint after N steps")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.add_argument("--dry-run", action="store_true", help="only validate (same as `fieldsolve validate`)")
    p.add_argument("--force", action="store_true",
                   help="run even if the estimated peak memory exceeds the memory available "
                   "(or resources.max_memory)")
    p.add_argument("-q", "--quiet", action="store_true", help="log to log.txt only")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("validate", help="check a config and its input files; print it resolved, with a "
                       "memory estimate")
    p.add_argument("config", help="YAML config to check")
    _add_set(p)
    p.add_argument("--out", help="also check that a run could be written to this directory")
    p.add_argument("--force", action="store_true",
                   help="do not refuse a config whose estimated peak memory exceeds the memory available")
    p.add_argument("--ranks", type=int, metavar="P",
                   help="estimate the memory per rank of a run on P MPI ranks (default: the ranks this "
                   "command was launched on, else 1)")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("info", help="summarise a run directory or an output file")
    p.add_argument("path", help="run directory, snapshot fs_*.h5, checkpoint chk_*.h5 or timeseries.h5")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plot", help="write PNG plots of a run directory or snapshot",
                       description="Write every plot that applies to PATH (or those named with --only). "
                                   "From Python: fieldsolve.plots.<name>(run_dir).")
    p.add_argument("path", nargs="?", help="run directory, snapshot fs_*.h5 or timeseries.h5")
    p.add_argument("--out", help="directory for the PNGs (default <run>/plots; a file's own directory)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="only this plot (repeatable; names from --list)")
    p.add_argument("--list", action="store_true", help="list the plots with one line each and exit")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("schema", help="print the JSON schema of run configs")
    p.add_argument("--out", help="write it to this file instead")
    p.add_argument("--markdown", action="store_true", help="the config reference as Markdown tables")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_schema)

    return parser


def _failure(exc) -> str:
    from .runs import RunError, _describe

    text = f"fieldsolve: failed: {_describe(exc)}"
    log = getattr(exc, "log", None) if isinstance(exc, RunError) else None
    return text + (f" (details in {log})" if log else " (run with --debug for the traceback)")


def _redeliver_interrupt(unraisable):
    """Ctrl-C that landed in a callback from C (llvmlite loading numba's cache) is only printed
    there as 'Exception ignored'; raise it again in the main thread, once the callback has
    returned (from another thread: raised here, it would be swallowed again)."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        import _thread
        import threading

        threading.Timer(0.01, _thread.interrupt_main).start()
    else:
        sys.__unraisablehook__(unraisable)


def _interrupt_message(exc) -> str:
    if getattr(exc, "finished", False):
        return "fieldsolve: interrupted, but only after the command had finished (its output is complete)"
    run_dir = getattr(exc, "run_dir", None)
    if run_dir is None:
        return "fieldsolve: interrupted"
    if getattr(exc, "resumable", False):
        return f"fieldsolve: interrupted; continue from the last checkpoint with --resume {run_dir}"
    return f"fieldsolve: interrupted before the first checkpoint; start {run_dir} again with --overwrite"


def _interrupted(exc) -> bool:
    """Ctrl-C that Python wrapped in another error (e.g. while a class body ran during an import)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


_SIGINT = {"seen": False, "delivered": False}


def _importing(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _on_sigint(signum, frame):
    """Python's own behaviour (KeyboardInterrupt), remembered: C extensions can catch the
    exception and report something else (pydantic-core once turned it into a validation error),
    and the command line must still say "interrupted" and exit 130. During an import the
    interrupt waits until the import is done: a C extension interrupted while it initialises
    prints a traceback of its own (numba's ``_dispatcher``) and fails with ImportError."""
    _SIGINT["seen"] = True
    if _importing(frame):
        import threading

        threading.Timer(0.02, _interrupt_later).start()
        return
    _SIGINT["delivered"] = True
    raise KeyboardInterrupt


def _interrupt_later():
    import _thread

    if not _SIGINT["delivered"]:  # main() may have reported the interrupt already
        _thread.interrupt_main()


def _quiet_other_ranks():
    """Under an MPI launcher only rank 0 talks (messages, summaries, errors every rank shares);
    a failure of one rank alone still prints its line (:func:`fieldsolve.parallel.mpi.abort_on_error`)."""
    from .parallel import mpi

    if mpi.launched() and mpi.rank(mpi.world()) > 0:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
        sys.stdout = sys.stderr = devnull


def main(argv=None) -> int:
    """The command line; returns the exit status (see the module docstring)."""
    import signal
    import threading

    debug, token = False, None
    previous_hook, sys.unraisablehook = sys.unraisablehook, _redeliver_interrupt
    previous_sigint = None
    if threading.current_thread() is threading.main_thread():
        _SIGINT["seen"] = _SIGINT["delivered"] = False
        previous_sigint = signal.signal(signal.SIGINT, _on_sigint)
    streams = sys.stdout, sys.stderr
    try:
        _quiet_other_ranks()
        if hasattr(signal, "SIGXFSZ"):  # a write past ulimit -f fails (exit 1) instead of killing us
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from .config import COMMAND_LINE, ConfigError
        from .files import ReadError

        token = COMMAND_LINE.set(True)

        args = build_parser().parse_args(argv)
        debug = args.debug
        try:
            if getattr(args, "stop_after", None) is not None and args.stop_after < 1:
                raise ConfigError(f"--stop-after {args.stop_after}: must be >= 1")
            status = args.func(args)
            if _SIGINT["seen"]:  # a Ctrl-C that something swallowed (a C extension, a deferred one)
                _SIGINT["delivered"] = True
                late = KeyboardInterrupt()
                late.finished = True
                raise late
            return status
        except (ConfigError, ReadError) as exc:  # bad input: config, input files
            if _SIGINT["seen"]:
                raise KeyboardInterrupt from exc
            if debug:
                traceback.print_exc()
            print(f"fieldsolve: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except Exception as exc:  # noqa: BLE001 - one line for users, the traceback in the log
            if _interrupted(exc) or _SIGINT["seen"]:
                raise KeyboardInterrupt from exc
            if debug:
                traceback.print_exc()
            print(_failure(exc), file=sys.stderr)
            return EXIT_FAIL
    except Exception as exc:  # noqa: BLE001 - an import that a Ctrl-C broke (numba's C modules report ImportError)
        if not (_SIGINT["seen"] or _interrupted(exc)):
            raise
        if debug:
            traceback.print_exc()
        print(_interrupt_message(exc), file=sys.stderr)
        return 130
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        print(_interrupt_message(exc), file=sys.stderr)
        return 130
    finally:
        sys.stdout, sys.stderr = streams
        sys.unraisablehook = previous_hook
        if previous_sigint is not None:
            # after an interrupt, ignore a second Ctrl-C while the interpreter shuts down
            signal.signal(signal.SIGINT, signal.SIG_IGN if _SIGINT["seen"] else previous_sigint)
        if token is not None:
            from .config import COMMAND_LINE

            COMMAND_LINE.reset(token)
