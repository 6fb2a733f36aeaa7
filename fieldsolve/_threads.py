"""The one thread-count setting shared by the FFT layer and the numba kernels.

Two OpenMP runtimes share the cores: numba's parallel kernels and pyFFTW's threaded FFTW
(each wheel brings its own libgomp). By default libgomp threads spin for milliseconds after
every parallel region, and on few cores the spinning threads of one runtime starve the other:
a 64^3 FFT right after a numba kernel took 8 ms instead of 0.8 ms on 2 cores. Unless
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set, this module (imported before numba and
pyFFTW start their threads) sets ``GOMP_SPINCOUNT=3000``: a short spin that keeps back-to-back
regions fast and frees the cores within microseconds. To override, set either variable before
importing fieldsolve (it has no effect on a runtime another package already started).
"""
from __future__ import annotations

import os

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "3000"

__all__ = ["set_num_threads", "get_num_threads"]

_state = {"threads": None}


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads used by FFTs and by the parallel deposit/readout kernels."""
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
