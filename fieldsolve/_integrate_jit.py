"""numba kernels behind the leapfrog of :mod:`fieldsolve.runs.particles`: kick, drift with the
periodic wrap, and the kinetic energy and momentum in one pass.

Each is one parallel loop over particles without temporaries (the NumPy forms allocated one or
two particle-sized arrays per operation). Results do not depend on the thread count: the kick
and drift are element-wise, and the reductions sum fixed blocks of particles in parallel, then
the block sums in order.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["kick", "drift", "wrap", "energy_momentum"]

_BLOCK = 16384  # particles per partial sum (fixed: the reduction order must not follow the threads)
_RUN = 128  # particles per inner partial sum of a block


@njit(parallel=True, cache=True, nogil=True)
def kick(v, a, c):
    """``v += c * a`` for (N, d) arrays."""
    n, d = v.shape
    for i in prange(n):
        for j in range(d):
            v[i, j] += c * a[i, j]


@njit(inline="always")
def _wrap1(y, o, L):
    # the same operations as o + np.mod(y - o, L): exact for any finite y; np.mod's result can
    # round up to L itself, which belongs at o
    r = (y - o) % L
    y = o + r
    if y >= o + L:
        y = o
    return y


@njit(parallel=True, cache=True, nogil=True)
def drift(x, v, dt, origin, box, periodic):
    """``x += dt * v``, then periodic axes wrapped into ``[origin, origin + box)``."""
    n, d = x.shape
    for i in prange(n):
        for j in range(d):
            y = x[i, j] + dt * v[i, j]
            if periodic[j]:
                y = _wrap1(y, origin[j], box[j])
            x[i, j] = y


@njit(parallel=True, cache=True, nogil=True)
def wrap(x, origin, box, periodic):
    """Periodic axes of ``x`` wrapped into ``[origin, origin + box)`` in place."""
    n, d = x.shape
    for i in prange(n):
        for j in range(d):
            if periodic[j]:
                x[i, j] = _wrap1(x[i, j], origin[j], box[j])


@njit(parallel=True, cache=True, nogil=True)
def _block_sums(v, m, out):
    # two levels: runs of _RUN particles summed apart, then the runs; the rounding error of a
    # sum of nearly equal terms (a cold beam) grows with the longest chain of additions, here
    # _RUN + _BLOCK / _RUN = 256 instead of _BLOCK (measured: 6e-15 -> 0 relative at 4e4 particles)
    n, d = v.shape
    for b in prange(out.shape[0]):
        ke, p0, p1, p2 = 0.0, 0.0, 0.0, 0.0  # d <= 3: scalars stay in registers
        for r in range(b * _BLOCK, min(n, (b + 1) * _BLOCK), _RUN):
            k, q0, q1, q2 = 0.0, 0.0, 0.0, 0.0
            for i in range(r, min(n, r + _RUN)):
                w0 = m[i] * v[i, 0]
                k += w0 * v[i, 0]
                q0 += w0
                if d > 1:
                    w1 = m[i] * v[i, 1]
                    k += w1 * v[i, 1]
                    q1 += w1
                if d > 2:
                    w2 = m[i] * v[i, 2]
                    k += w2 * v[i, 2]
                    q2 += w2
            ke += k
            p0 += q0
            p1 += q1
            p2 += q2
        out[b, 0] = 0.5 * ke
        out[b, 1] = p0
        if d > 1:
            out[b, 2] = p1
        if d > 2:
            out[b, 3] = p2


def energy_momentum(v, m):
    """``(sum m |v|^2 / 2, sum m v)`` of (N, d) velocities and (N,) masses, in one pass."""
    nb = max(1, -(-v.shape[0] // _BLOCK))
    out = np.empty((nb, 1 + v.shape[1]))
    _block_sums(v, m, out)
    s = out.sum(axis=0) if nb > 1 else out[0]
    return float(s[0]), np.array(s[1:])
