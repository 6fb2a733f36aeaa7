"""The run directory: results, errors, provenance, the directory itself, logging, signals.

Every file except the line-buffered ``log.txt`` is written to ``<name>.tmp`` and moved into
place with ``os.replace`` (:func:`fieldsolve.files.atomic_path`).
"""
from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..config import ConfigError, config_hash, option
from ..inputs import check_out_dir

__all__ = ["RunError", "RunResult", "provenance", "log"]

log = logging.getLogger("fieldsolve.run")

# keys that may change between a checkpoint and a resumed run
RESUME_MUTABLE = ("time.t_end", "time.steps", "output", "checkpoint", "threads", "resources")


class RunError(RuntimeError):
    """A failure during a run (CLI exit status 1); ``log`` is the run's log.txt (with the
    traceback) when the run directory exists."""

    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log


@dataclass
class RunResult:
    """What :func:`run` returns: where things are and the final diagnostics."""
    run_dir: Path
    config: object
    kind: str
    steps: int = 0
    time: float = 0.0
    snapshots: list = field(default_factory=list)
    timeseries: Path | None = None
    checkpoint: Path | None = None
    plots: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    interrupted: str | None = None   # None, "SIGINT", "SIGTERM" or "stop_after"

    def summary(self) -> str:
        lines = [f"fieldsolve {self.kind} run in {self.run_dir}: {self.steps} steps, t = {self.time:.6g}"
                 + (f" (stopped: {self.interrupted})" if self.interrupted else "")]
        for k, v in self.final.items():
            if isinstance(v, (float, int, np.floating, np.integer)):
                lines.append(f"  {k:28s} {float(v): .6e}")
        lines.append(f"  snapshots: {len(self.snapshots)} in {self.run_dir / 'diags' / 'fields'}")
        if self.checkpoint:
            lines.append(f"  checkpoint: {self.checkpoint}")
        if self.plots:
            lines.append(f"  plots: {', '.join(p.name for p in self.plots)}")
        return "\n".join(lines)


def _git_describe():
    """``git describe`` of the checkout fieldsolve is imported from (None if installed elsewhere)."""
    root = Path(__file__).resolve().parents[2]  # fieldsolve/runs/rundir.py -> the repository root
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(cfg, seed_entropy=None, mpi_size=1) -> dict:
    import h5py
    import scipy

    from .. import fft
    from .._threads import get_num_threads

    return {
        "fieldsolve_version": __version__, "git_describe": _git_describe(),
        "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version, "fft_backend": fft.get_backend(),
        "threads": get_num_threads(), "host": platform.node(), "platform": platform.platform(),
        "date_utc": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime()),
        "command_line": list(sys.argv), "mpi_size": mpi_size,
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
        "seed": cfg.seed, "seed_entropy": seed_entropy, "config_sha256": config_hash(cfg),
    }


def _prepare_dir(out: Path, overwrite: bool):
    """Create the (checked, see :func:`fieldsolve.inputs.check_out_dir`) run directory."""
    check_out_dir(out, overwrite=overwrite)
    try:
        if out.exists() and any(out.iterdir()):
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option('out', out)}: cannot create the run directory "
                          f"({exc.strerror or exc})") from None


def _mutable(key: str) -> bool:
    return any(key == m or key.startswith(m + ".") for m in RESUME_MUTABLE)


def _diff_keys(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


class _LogFile(logging.FileHandler):
    """log.txt: a failed write (disk full, file-size limit) must neither stop the run nor
    print logging's own traceback; the run's real outputs report such failures."""

    def handleError(self, record):
        pass

    def close(self):
        try:
            super().close()
        except OSError:
            pass


class _MessageOnly(logging.Formatter):
    """The echo on stdout: messages only; tracebacks go to log.txt."""

    def format(self, record):
        return record.getMessage()


class _Logging:
    def __init__(self, path: Path, echo: bool, root: bool = True):
        if not root:  # MPI ranks other than 0 log nothing (rank 0 speaks for the run)
            self.handlers = [logging.NullHandler()]
            return
        self.handlers = [_LogFile(path, mode="a")]
        self.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        if echo:
            h = logging.StreamHandler(sys.stdout)
            h.setFormatter(_MessageOnly())
            self.handlers.append(h)

    def __enter__(self):
        for h in self.handlers:
            log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
        return self

    def __exit__(self, *exc):
        for h in self.handlers:
            log.removeHandler(h)
            h.close()


class _Signals:
    """SIGINT/SIGTERM set a flag; the step loop stops cleanly at the next step boundary."""

    def __init__(self):
        self.caught = None
        self.previous = {}

    def _handler(self, signum, frame):
        self.caught = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, h in self.previous.items():
            signal.signal(s, h)


class _FileSizeLimit:
    """Ignore SIGXFSZ during a run (Python does by default, an embedding program may not), so a
    write past ``ulimit -f`` fails with EFBIG, a WriteError, instead of killing the process."""

    def __enter__(self):
        self.previous = None
        if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGXFSZ, self.previous)


def _plots(run_dir, enabled):
    if not enabled:
        return []
    from ..plots import make_plots

    try:
        return make_plots(run_dir)
    except Exception as exc:  # plotting must never lose a finished run
        log.warning("plotting failed: %s", exc)
        return []
