"""The one thread-count setting shared by the FFT layer and the numba kernels."""
from __future__ import annotations

import os

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
