"""numba's on-disk cache of fieldsolve's compiled kernels: whether it is cold, and a warm-up.

The first call of each kernel compiles it (about 15 s for a run's kernels on 2 cores) and stores
the machine code beside the source (``__pycache__``, or ``NUMBA_CACHE_DIR``); later processes
load it in milliseconds. Runs print one line when the cache is cold, and ``make run`` /
``make test`` warm it right after installing (:func:`warm`).
"""
from __future__ import annotations

import os

__all__ = ["cold", "warm"]


def _dispatchers():
    from . import _assign_jit, _fft_jit, _integrate_jit

    return [getattr(m, name) for m, names in (
        (_assign_jit, ("paint_serial", "paint_slabs", "readout", "slab_sort")),
        (_fft_jit, ("mul_real",)), (_integrate_jit, ("kick", "drift", "energy_momentum")),
    ) for name in names if hasattr(m, name) and hasattr(getattr(m, name), "_cache")]


def cold() -> bool:
    """True when none of the main kernels has a cache index yet (a first run: it compiles)."""
    try:
        found = [getattr(getattr(d._cache, "_cache_file", None), "_index_path", None)
                 for d in _dispatchers()]
    except Exception:  # a numba without this private layout: say nothing rather than fail
        return False
    found = [p for p in found if p is not None]
    return bool(found) and not any(os.path.exists(p) for p in found)


def warm():
    """Compile (or load) the kernels a run uses, with tiny inputs of the common signatures."""
    import numpy as np

    from . import _assign_jit, assign
    from .assign import deposit, interpolate
    from .grid import Grid
    from .parallel import Decomposition, particles
    from .pm import ParticleMesh

    rng = np.random.default_rng(0)
    for periodic in (True, False):
        for nd in (1, 2, 3):
            g = Grid((8,) * nd, 1.0, periodic=periodic)
            for dtype in (np.float64, np.float32):
                x = (0.25 + 0.5 * rng.random((30_000, nd))).astype(dtype)
                rho = deposit(g, x, window="tsc")
                interpolate(g, np.stack([rho] * nd), x, window="tsc")
                if nd == 3 and periodic:  # the home planes of MPI runs (every rank loads them)
                    particles.owners(Decomposition(g), x)
            # the slab-sorted paths that large runs take (above these sizes), with tiny inputs
            limits = assign._PARALLEL_WORK, assign._READ_SORT_ABOVE
            assign._PARALLEL_WORK = assign._READ_SORT_ABOVE = 0
            try:
                x = 0.25 + 0.5 * rng.random((1000, nd))
                for window in ("cic", "tsc") if nd == 3 else ("tsc",):
                    interpolate(g, np.stack([deposit(g, x, window=window)] * nd), x, window=window)
            finally:
                assign._PARALLEL_WORK, assign._READ_SORT_ABOVE = limits
    _assign_jit.counting_sort(np.zeros(1, np.int32), 1)
    x = 0.25 + 0.5 * rng.random((100, 3))  # inside a bounded axis
    for periodic in (True, (True, True, False), False):  # mixed: mirrored spectra; free: radial kernels
        ParticleMesh(Grid((16,) * 3, 1.0, periodic=periodic)).accelerations(x, 1.0)
    from . import _integrate_jit as jit

    v = np.zeros_like(x)
    jit.kick(v, x, 0.5)
    jit.drift(x, v, 0.1, np.zeros(3), np.ones(3), np.ones(3, dtype=bool))
    jit.wrap(x, np.zeros(3), np.ones(3), np.ones(3, dtype=bool))
    jit.energy_momentum(v, np.ones(100))


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    was_cold = cold()
    warm()
    print(f"fieldsolve: numba kernels {'compiled' if was_cold else 'loaded'} in {time.perf_counter() - t:.1f} s")
