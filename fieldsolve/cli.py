"""``fieldsolve`` command line: run, validate, info, plot, schema, demo.

Exit status: 0 success; 2 invalid config or input (one-line message, no traceback); 1 failure
during a run (one-line message; details in the run's log.txt); 130/143 a run stopped by
SIGINT/SIGTERM after writing a checkpoint (continue with ``fieldsolve run --resume DIR``).
"""
from __future__ import annotations

import argparse
import json
import logging
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
    from .runner import run

    if args.dry_run:
        if args.config is None:
            from .config import ConfigError

            raise ConfigError("--dry-run needs a config")
        return _cmd_validate(args)
    config = args.config
    out = args.out
    if args.resume is not None:
        out = args.resume or out
        if out is None and config is not None and Path(config).is_dir():
            out, config = config, None
    res = run(config, out=out, overrides=args.overrides, overwrite=args.overwrite,
              resume=args.resume is not None, progress=False if args.no_progress else None,
              stop_after=args.stop_after, echo=not args.quiet)
    if args.quiet:  # otherwise the summary was already logged to stdout
        print(res.summary())
    if res.interrupted in EXIT_SIGNAL:
        return EXIT_SIGNAL[res.interrupted]
    return EXIT_OK


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024


def _cmd_validate(args):
    import os

    from .config import dump_config, load_config
    from .runner import estimate_memory

    cfg = load_config(args.config, args.overrides)
    mem = estimate_memory(cfg)
    sys.stdout.write(dump_config(cfg))
    print(f"# valid {cfg.kind} config; particles: {mem['particles']}; estimated memory: "
          f"{_human(mem['total_bytes'])} (grids incl. FFT work {_human(mem['grid_bytes'])}, particles "
          f"{_human(mem['particle_bytes'])}); per snapshot: {_human(mem['snapshot_bytes'])}")
    if args.out:
        out = Path(args.out)
        parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
        if out.exists() and any(out.iterdir()):
            print(f"# note: --out {out} is not empty (run would need --overwrite or --resume)")
        if not os.access(parent, os.W_OK):
            from .config import ConfigError

            raise ConfigError(f"--out {out}: {parent} is not writable")
    return EXIT_OK


def _describe_h5(path: Path) -> list:
    import h5py
    import numpy as np

    lines = []
    with h5py.File(path, "r") as f:
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


def describe(path) -> str:
    from .config import ConfigError

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    lines = []
    if path.is_dir():
        cfg = path / "config.resolved.yaml"
        if not cfg.exists():
            raise ConfigError(f"{path}: not a fieldsolve run directory (no config.resolved.yaml)")
        from .config import load_config

        c = load_config(cfg)
        snaps = sorted((path / "diags" / "fields").glob("fs_*.h5"))
        lines.append(f"run directory {path}: kind {c.kind}, name {c.name}, grid {c.grid.shape}, "
                     f"{len(snaps)} snapshot(s)")
        latest = path / "checkpoints" / "latest"
        if latest.exists():
            lines.append(f"  latest checkpoint: {latest.read_text().strip()}")
        ts = path / "timeseries.h5"
        if ts.exists():
            from .io import read_timeseries

            d = read_timeseries(ts)
            e = d["total_energy"]
            lines.append(f"  steps {int(d['step'][-1])}, t = {d['time'][-1]:.6g}, total energy {e[-1]:.8g}, "
                         f"relative energy change {(e[-1] - e[0]) / abs(e[0]) if e[0] else float('nan'):.3e}")
        if snaps:
            lines += _describe_h5(snaps[-1])
        return "\n".join(lines)
    import h5py

    try:
        return "\n".join(_describe_h5(path))
    except (OSError, KeyError) as exc:
        if not h5py.is_hdf5(path):
            raise ConfigError(f"{path}: not an HDF5 file") from None
        raise ConfigError(f"{path}: cannot read ({exc})") from None


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
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not paths:
        raise ConfigError(f"{path}: nothing to plot (need a run directory, a snapshot or timeseries.h5)")
    for p in paths:
        print(p)
    return EXIT_OK


def _cmd_schema(args):
    from .config import config_reference_markdown, config_schema

    text = config_reference_markdown() if args.markdown else json.dumps(config_schema(), indent=1)
    if args.out:
        from .io import atomic_write_text

        atomic_write_text(args.out, text + "\n")
        print(args.out)
    else:
        print(text)
    return EXIT_OK


def _cmd_demo(args):
    from .demo import run_demo

    run_demo(args.out, n_particles=args.particles, n_mesh=args.mesh, seed=args.seed)
    return EXIT_OK


def build_parser():
    parser = _Parser(prog="fieldsolve", description="Config-driven particle-mesh, PIC, Poisson and LES runs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a config (YAML) into a run directory")
    p.add_argument("config", nargs="?", help="YAML config (omit with --resume DIR)")
    p.add_argument("--out", help="run directory (default runs/<name>)")
    _add_set(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--resume", nargs="?", const="", metavar="DIR",
                   help="continue the run in DIR from its latest checkpoint")
    p.add_argument("--stop-after", type=int, metavar="N", help="stop with a checkpoint after N steps")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.add_argument("--dry-run", action="store_true", help="only validate (same as `fieldsolve validate`)")
    p.add_argument("-q", "--quiet", action="store_true", help="log to log.txt only")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("validate", help="check a config; print it resolved, with a memory estimate")
    p.add_argument("config", help="YAML config to check")
    _add_set(p)
    p.add_argument("--out", help="also check that this run directory is writable")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("info", help="summarise a run directory or an output file")
    p.add_argument("path", help="run directory, snapshot fs_*.h5, checkpoint chk_*.h5 or timeseries.h5")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plot", help="write PNG plots of a run directory or snapshot",
                       description="Write every plot that applies to PATH (or those named with --only). "
                                   "From Python: fieldsolve.plots.<name>(run_dir).")
    p.add_argument("path", nargs="?", help="run directory, snapshot fs_*.h5 or timeseries.h5")
    p.add_argument("--out", help="directory for the PNGs (default <run>/plots; a file's own directory)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="only this plot (repeatable; names from --list)")
    p.add_argument("--list", action="store_true", help="list the plots with one line each and exit")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("schema", help="print the JSON schema of run configs")
    p.add_argument("--out", help="write it to this file instead")
    p.add_argument("--markdown", action="store_true", help="the config reference as Markdown tables")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("demo", help="library demo, no config: P(k) of particles displaced by one plane wave",
                       description="Uniform random particles displaced by one plane wave, TSC-deposited with "
                                   "interlacing; writes the shot-noise-subtracted power spectrum (PNG and table) "
                                   "with the perturbed mode marked.")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--particles", type=int, default=400_000, help="number of particles (default 400000)")
    p.add_argument("--mesh", type=int, default=64, help="cells per axis of the cubic grid (default 64)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None) -> int:
    from .config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "stop_after", None) is not None and args.stop_after < 1:
            raise ConfigError(f"--stop-after {args.stop_after}: must be >= 1")
        return args.func(args)
    except ConfigError as exc:
        print(f"fieldsolve: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("fieldsolve: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for users, traceback in the log
        logging.getLogger("fieldsolve.run").error("failure: %s\n%s", exc, traceback.format_exc())
        print(f"fieldsolve: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAIL
