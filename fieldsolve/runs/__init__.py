"""Config-driven runs: ``fieldsolve.run(config, out=...)`` (the CLI calls the same function).

Particle runs (``nbody``, ``pic``) integrate with kick-drift-kick leapfrog; the forces come from
the library's one PM path, :class:`fieldsolve.pm.ParticleMesh` (settings from ``solver``):

    ParticleMesh.paint(x, weights)  ->  .solve(rho, coupling)  ->  .readout(-grad phi, x)
    ->  kick / drift

Gravity: ``lap phi = 4 pi G (rho - mean)`` on periodic grids (the mean is removed, Jeans swindle),
``lap phi = 4 pi G rho`` on isolated ones; acceleration ``g = -grad phi``.
Electrostatics: ``lap phi = -rho / eps0`` with ``rho`` the species' charge density plus a uniform
neutralising background; acceleration ``(q/m) E`` with ``E = -grad phi``.

Run directory (``--out``)::

    config.yaml  config.resolved.yaml  provenance.json  log.txt  timeseries.h5
    diags/fields/fs_%06d.h5 + fields.pmd   checkpoints/chk_%06d.h5 + latest   plots/*.png

Every file except the line-buffered ``log.txt`` is written to ``<name>.tmp`` and moved into
place with ``os.replace``. SIGINT/SIGTERM finish the current step, write a checkpoint and the
time series, and return (CLI exit status 130/143); ``resume=True`` continues from
``checkpoints/latest`` and reproduces an uninterrupted run bit for bit (same threads).

Modules: :mod:`.plan` (config -> checked plan, resume checks), :mod:`.rundir` (results, errors,
provenance, logging, signals), :mod:`.particles` (the leapfrog loop of :mod:`.nbody` and
:mod:`.pic`), :mod:`.poisson`, :mod:`.les`. Each run type calls the library; none holds numerics
of its own.
"""
from __future__ import annotations

import json
import os

from .. import files
from ..config import ConfigError, dump_config
from ..resources import effective_threads, estimate_memory
from .les import run_les
from .particles import run_particles
from .plan import plan_new, plan_resume
from .poisson import run_poisson
from .rundir import RunError, RunResult, _FileSizeLimit, _Logging, _prepare_dir, log, provenance

__all__ = ["run", "RunResult", "RunError", "estimate_memory", "provenance"]

_RUNNERS = {"poisson": run_poisson, "les": run_les}


def run(config, out=None, *, overrides=(), overwrite=False, resume=False, progress=None,
        stop_after=None, echo=True, force=False, comm=None):
    """Run a simulation from a config (path, YAML text, dict or model).

    Everything that can be checked (config, input files, kernel and grid, memory, the output
    location) is checked before anything is written. Returns a :class:`RunResult`. Raises
    :class:`ConfigError` for invalid input and :class:`RunError` for failures during the run.

    Parameters
    ----------
    out : path, optional
        Run directory (default ``runs/<name>``). Must be empty or absent unless ``overwrite``
        (replace a previous run directory) or ``resume`` (continue from its latest checkpoint;
        ``config`` may then be None: the run directory's resolved config is used). Extending a
        finished run (a later ``time.t_end`` or more ``time.steps``) gives the bits of a run
        given the longer end from the start; an end before the checkpoint is refused.
    overrides : list of str
        ``["section.key=value", ...]`` applied before validation.
    progress : bool or None
        True/False to force the progress bar on/off; None shows it only on a TTY.
    stop_after : int, optional
        Stop (with a checkpoint) after this many steps in this call.
    echo : bool
        Also print log lines to stdout.
    force : bool
        Run even if the memory estimate exceeds the memory available (or
        ``resources.max_memory``).
    comm : MPI communicator, optional
        Run distributed over its ranks (default: ``MPI.COMM_WORLD`` when an MPI launcher
        started this process, else serial). Every rank calls ``run`` with the same arguments;
        rank 0 writes the run directory, the log and the summary.

    A run fixes glibc's mmap threshold for its process at 4 MiB (``fieldsolve._malloc``), so
    that freed particle arrays return to the system; set ``MALLOC_MMAP_THRESHOLD_`` to choose.
    """
    from .._malloc import fix_mmap_threshold
    from ..parallel import mpi

    fix_mmap_threshold()  # freed particle-sized arrays go back to the system (fieldsolve._malloc)
    if comm is None:
        comm = mpi.world()
    # Every rank checks (config, inputs, output location) and they agree before rank 0 creates
    # the run directory: a rank still checking must not find it already made.
    if resume:
        plan = mpi.agreed(comm, plan_resume, config, out, overrides, force, comm)
    else:
        plan = mpi.agreed(comm, plan_new, config, out, overrides, overwrite, force, comm)
        mpi.on_root(comm, _prepare_dir, plan.out, overwrite)

    from .._threads import get_num_threads, set_num_threads

    threads_before = get_num_threads()
    threads, _ = effective_threads(plan.cfg)  # its note is among the plan's (preflight)
    if threads is None and mpi.launched() and "FIELDSOLVE_NUM_THREADS" not in os.environ:
        threads = mpi.threads_per_rank(comm)  # under MPICH every rank sees every core
    if threads is not None:
        set_num_threads(threads)
    try:
        with _FileSizeLimit():
            return _run_in_dir(plan, progress, stop_after, echo, notes=plan.notes)
    finally:
        set_num_threads(threads_before)  # the thread count is process-wide: restore it


def _start_dir(plan, prov):
    cfg, out = plan.cfg, plan.out
    if plan.resume_from is None:
        files.atomic_write_text(out / "config.yaml", plan.raw_text if plan.raw_text is not None else dump_config(cfg))
        files.atomic_write_text(out / "provenance.json", json.dumps(prov, indent=1, sort_keys=True) + "\n")
    files.atomic_write_text(out / "config.resolved.yaml", dump_config(cfg))


def _rewind(plan):
    """Point `latest` at the checkpoint an extension starts from, then remove what it replaces."""
    if not plan.rewind:
        return
    files.atomic_write_text(plan.out / "checkpoints" / "latest", plan.resume_from.name + "\n")
    for p in plan.rewind:
        p.unlink()
    log.info("extending a run whose last step was shortened to reach its end: continuing from %s; "
             "replaced %s", plan.resume_from.name, ", ".join(p.name for p in plan.rewind))


def _run_in_dir(plan, progress, stop_after, echo, notes=()):
    from ..parallel import mpi

    cfg, out, comm = plan.cfg, plan.out, plan.comm
    root = mpi.rank(comm) == 0
    resume = plan.resume_from is not None
    prov = provenance(cfg, plan.entropy, mpi_size=mpi.size(comm))
    mpi.on_root(comm, _start_dir, plan, prov)
    with _Logging(out / "log.txt", echo, root=root):
        log.info("fieldsolve %s run%s -> %s%s", cfg.kind, f" {cfg.name}" if cfg.name else "", out,
                 " (resume)" if resume else "")
        for note in notes:
            log.warning("%s", note)
        from .._jit_cache import cold

        if cold():
            log.info("compiling numba kernels, first run only (about 15 s; later runs load them)...")
        try:
            mpi.on_root(comm, _rewind, plan)
            if cfg.kind in ("nbody", "pic"):
                res = run_particles(plan, prov, progress, stop_after)
            else:
                res = _RUNNERS[cfg.kind](cfg, out, prov, plan.inputs, comm)
        except ConfigError as exc:
            log.error("invalid input: %s", exc)
            raise
        except KeyboardInterrupt as exc:  # during set-up, before the step loop traps signals
            log.error("interrupted before the run could stop cleanly (no checkpoint written now)")
            exc.run_dir, exc.resumable = out, resume
            raise
        except Exception as exc:
            log.exception("run failed: %s", _describe(exc))
            if not mpi.serial(comm) and not mpi.on_every_rank(exc):  # the others may wait in a
                _log_rank_failure(out / "log.txt", comm, exc)  # collective: end them all
                mpi.abort_on_error(comm, f"{_describe(exc)} (details in {out / 'log.txt'})")
            raise RunError(_describe(exc), log=out / "log.txt") from exc
        log.info("%s", res.summary())
        return res


def _log_rank_failure(path, comm, exc):
    """A rank other than 0 (which logs for the run) adds its failure and traceback to the log
    before every rank is ended."""
    import time
    import traceback

    if comm.Get_rank() == 0:
        return
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ERROR rank {comm.Get_rank()}: run failed: "
                    f"{_describe(exc)}\n{lines}")
    except OSError:
        pass  # the one line on stderr still says what failed


def _describe(exc) -> str:
    """One line: our own errors as they are, others with their type (``MemoryError``...)."""
    if isinstance(exc, (RunError, files.WriteError)):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
