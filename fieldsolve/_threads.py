"""The one thread-count setting shared by the FFT layer and the numba kernels.

Two OpenMP runtimes share the cores: numba's parallel kernels and pyFFTW's threaded FFTW
(each wheel brings its own libgomp). By default libgomp threads spin for milliseconds after
every parallel region, and on few cores the spinning threads of one runtime starve the other:
a 64^3 FFT right after a numba kernel took 8 ms instead of 0.8 ms on 2 cores. Unless
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set, this module (imported before numba and
pyFFTW start their threads) sets ``GOMP_SPINCOUNT=3000``: a short spin that keeps back-to-back
regions fast and frees the cores within microseconds. To override, set either variable before
importing fieldsolve (it has no effect on a runtime another package already started).

Threads per process: ``FIELDSOLVE_NUM_THREADS=n`` in the environment (read at import) sets the
default and also caps numba's pool (``NUMBA_NUM_THREADS``, unless that is set), so several
processes can share a node (MPI ranks, parallel jobs) without oversubscribing its cores;
:func:`set_num_threads` and a run config's ``threads`` change it within the process.
"""
from __future__ import annotations

import os

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "3000"
# numba's threading layer: OpenMP first, TBB last. numba would take TBB first where it loads;
# measured on 2 cores, its 2-thread deposit ran no faster than 1 thread (0.96-1.04x), and from
# a pip venv it loads only with the venv's lib/ on LD_LIBRARY_PATH. The kernels balance their
# own work (see _assign_jit._claim), so any layer degrades gracefully under load.
os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp workqueue tbb")

__all__ = ["set_num_threads", "get_num_threads"]

ENV = "FIELDSOLVE_NUM_THREADS"


def _env_threads():
    """The thread count from ``FIELDSOLVE_NUM_THREADS``, or None (unset, or not an integer >= 1:
    then a warning, not an error at import)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        import warnings

        warnings.warn(f"{ENV}={value!r} is not an integer >= 1; ignored", RuntimeWarning, stacklevel=2)
        return None
    return n


_state = {"threads": _env_threads()}
if _state["threads"] is not None:
    os.environ.setdefault("NUMBA_NUM_THREADS", str(_state["threads"]))


def _default_threads() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads used by FFTs and by the parallel deposit/readout kernels: the last
    :func:`set_num_threads`, else ``FIELDSOLVE_NUM_THREADS``, else the usable cores."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Set the thread count for FFTs (pyFFTW/scipy workers) and numba kernels.

    numba's pool is sized at import (``NUMBA_NUM_THREADS``); a larger request is capped there.
    Results of fieldsolve kernels do not depend on the thread count (bitwise).
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n={n} must be >= 1")
    _state["threads"] = n
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover
        pass
