"""glibc's malloc in long runs: a fixed mmap threshold, so that freed large arrays go back to the
system instead of staying counted in the process's resident memory.

glibc serves allocations from ``M_MMAP_THRESHOLD`` up with ``mmap`` and unmaps them when freed,
but by default the threshold rises to the size of each freed mapped block (up to 32 MiB), after
which arrays below it come from the heap and, once freed, mostly stay there. A PM step makes and
frees particle-sized arrays every step: at 256^3 with 2.1 million particles
(``benchmarks/bench_parallel.py``) the peak of a step was 834 MiB serially and 471 / 515 MiB per
rank on 2 ranks with glibc's default, 805 MiB and 413 / 410 MiB with the threshold fixed at
4 MiB; the time per step did not change beyond the noise (medians 0.72-0.77 s either way,
alternating runs). Arrays under 4 MiB (small runs) are served as before.
"""
from __future__ import annotations

import ctypes
import os
import sys

DEFAULT_THRESHOLD = 4 << 20  # bytes
_M_MMAP_THRESHOLD = -3  # mallopt parameter, <malloc.h>


def fix_mmap_threshold(nbytes: int = DEFAULT_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``nbytes`` for this process.

    :func:`fieldsolve.run` (and so ``fieldsolve run``) calls it: a run owns its process. The
    solvers, deposits and filters never do, so a program that only uses them keeps its own malloc
    settings. Left alone where ``MALLOC_MMAP_THRESHOLD_`` is set in the environment (the user's
    choice) and off Linux; returns whether the threshold was set.
    """
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, int(nbytes)))
    except (OSError, AttributeError, TypeError):  # not glibc (no mallopt) or no C library
        return False
