"""Generic numba kernels behind :mod:`fieldsolve.assign`: any window (order ``P`` = 1..4), any
dimension (1-3), periodic or bounded axes.

Positions stay in physical units and are mapped to cell-centre units ``u = (x - origin)/h - 1/2``
(cell ``i`` centred at ``u = i``). The loops (``paint_block`` / ``read_block``) take the window
order ``P`` as a run-time argument and keep the weights in tuples (registers, no heap scratch),
with one loop nest per dimension: one compiled kernel per dtype serves every (dimension,
window) pair, which keeps the cold JIT cost to seconds. (Specialising per (P, NDIM) was tried:
compile time and memory exploded. Inlining every helper at numba level, ``inline="always"``,
made the 1-D loop 1.7x faster but the cold compile 4x slower (46 s instead of 12 s); only the
check of positions, run on every call, is inlined.)

The grid geometry travels as tuples of scalars (``orig``, ``ih``, ``shape``, ``per``, padded to 3
axes) and per-particle helpers take scalars, never arrays: a helper call that takes an array
costs a reference-count increment and decrement (atomic instructions) per particle, even when
numba inlines it, which made the generic loop 30x slower than a plain one (90 ns per particle
whatever the dimension).
"""
from __future__ import annotations

import math

import numpy as np

from numba import njit

_JIT = dict(cache=True, nogil=True)
FAR = 5  # status of a particle more than one period outside the box on a periodic axis


@njit(**_JIT)
def window_weights(u, P):
    """Start index (not wrapped) and the P weights (padded with zeros) at ``u``."""
    if P == 1:
        return math.floor(u + 0.5), 1.0, 0.0, 0.0, 0.0
    if P == 2:
        s = math.floor(u)
        d = u - s
        return s, 1.0 - d, d, 0.0, 0.0
    if P == 3:
        c = math.floor(u + 0.5)
        d = u - c
        return c - 1, 0.5 * (0.5 - d) * (0.5 - d), 0.75 - d * d, 0.5 * (0.5 + d) * (0.5 + d), 0.0
    f = math.floor(u)
    d = u - f
    e = 1.0 - d
    return (f - 1, e * e * e / 6.0, (4.0 - 6.0 * d * d + 3.0 * d * d * d) / 6.0,
            (4.0 - 6.0 * e * e + 3.0 * e * e * e) / 6.0, d * d * d / 6.0)


@njit(**_JIT)
def wrap(i, n):
    """``i mod n`` in ``[0, n)`` without an integer division (tens of cycles) in the common
    case of a particle at most one period outside the box."""
    if i < 0:
        i += n
    elif i >= n:
        i -= n
    if i < 0 or i >= n:
        i %= n
    return i


@njit(**_JIT)
def _indices(s, n, per, off):
    """Array indices of the 4 stencil slots starting at cell ``s`` of an axis of ``n`` cells
    whose array starts at cell ``off``: wrapped on a periodic axis, -1 off a bounded one. The
    offset is integer arithmetic after the float work, so a slab of a split grid gets the
    serial cells exactly; on a periodic axis it needs an array of at most ``n`` planes (each
    cell then has one place in it)."""
    if per:
        s = wrap(s - off, n)
        return s, wrap(s + 1, n), wrap(s + 2, n), wrap(s + 3, n)
    i0 = s - off if 0 <= s < n else -1
    i1 = s + 1 - off if 0 <= s + 1 < n else -1
    i2 = s + 2 - off if 0 <= s + 2 < n else -1
    i3 = s + 3 - off if 0 <= s + 3 < n else -1
    return i0, i1, i2, i3


@njit(**_JIT)
def _axis(x, o, ih, n, per, P, off):
    s, w0, w1, w2, w3 = window_weights((x - o) * ih - 0.5, P)
    return (w0, w1, w2, w3), _indices(s, n, per, off)


@njit(**_JIT)
def _stencil(x0, x1, x2, orig, ih, shape, per, P, NDIM, off):
    """Weights and cell indices of a particle at ``(x0, x1, x2)`` on each axis (unit weight at
    index 0 on the axes a lower-dimensional grid does not have; ``off`` on axis 0 only)."""
    W0, I0 = _axis(x0, orig[0], ih[0], shape[0], per[0], P, off)
    W1 = (1.0, 0.0, 0.0, 0.0)
    I1 = (0, 0, 0, 0)
    W2 = W1
    I2 = I1
    if NDIM > 1:
        W1, I1 = _axis(x1, orig[1], ih[1], shape[1], per[1], P, 0)
    if NDIM > 2:
        W2, I2 = _axis(x2, orig[2], ih[2], shape[2], per[2], P, 0)
    return W0, I0, W1, I1, W2, I2


@njit(**_JIT)
def paint_block(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, P, NDIM, off):
    """Paint particles ``lo:hi``. 1-D and 2-D grids get loops of their own: the 3-D loop nest
    with unit weights on the missing axes cost 3-4x more per particle there. ``grid`` is
    (C, planes, n1, n2) with its plane 0 at cell ``off`` of axis 0 (0 and ``shape[0]``
    planes: the whole grid; else a slab with ghost planes)."""
    nc = grid.shape[0]
    if NDIM == 1:
        for q in range(lo, hi):
            W, I = _axis(np.float64(pos[q, 0]), orig[0], ih[0], shape[0], per[0], P, off)
            for a in range(P):
                ia = I[a]
                if ia >= 0:
                    for m in range(nc):
                        grid[m, ia, 0, 0] += W[a] * wts[q * wstep, m]
    elif NDIM == 2:
        for q in range(lo, hi):
            W0, I0 = _axis(np.float64(pos[q, 0]), orig[0], ih[0], shape[0], per[0], P, off)
            W1, I1 = _axis(np.float64(pos[q, 1]), orig[1], ih[1], shape[1], per[1], P, 0)
            for a in range(P):
                ia = I0[a]
                if ia < 0:
                    continue
                for b in range(P):
                    ib = I1[b]
                    if ib >= 0:
                        wab = W0[a] * W1[b]
                        for m in range(nc):
                            grid[m, ia, ib, 0] += wab * wts[q * wstep, m]
    else:
        for q in range(lo, hi):
            W0, I0, W1, I1, W2, I2 = _stencil(np.float64(pos[q, 0]), np.float64(pos[q, 1]),
                                              np.float64(pos[q, 2]), orig, ih, shape, per, P, 3, off)
            for a in range(P):
                ia = I0[a]
                if ia < 0:
                    continue
                for b in range(P):
                    ib = I1[b]
                    if ib < 0:
                        continue
                    wab = W0[a] * W1[b]
                    for c in range(P):
                        ic = I2[c]
                        if ic >= 0:
                            wabc = wab * W2[c]
                            for m in range(nc):
                                grid[m, ia, ib, ic] += wabc * wts[q * wstep, m]


@njit(**_JIT)
def read_block(field, pos, out, lo, hi, orig, ih, shape, per, P, NDIM, off):
    """Read particles ``lo:hi`` (own loops for 1-D and 2-D grids, and ``off``, as
    :func:`paint_block`)."""
    nc = field.shape[0]
    if NDIM == 1:
        for q in range(lo, hi):
            W, I = _axis(np.float64(pos[q, 0]), orig[0], ih[0], shape[0], per[0], P, off)
            for m in range(nc):
                acc = 0.0
                for a in range(P):
                    ia = I[a]
                    if ia >= 0:
                        acc += W[a] * field[m, ia, 0, 0]
                out[q, m] = acc
    elif NDIM == 2:
        for q in range(lo, hi):
            W0, I0 = _axis(np.float64(pos[q, 0]), orig[0], ih[0], shape[0], per[0], P, off)
            W1, I1 = _axis(np.float64(pos[q, 1]), orig[1], ih[1], shape[1], per[1], P, 0)
            for m in range(nc):
                acc = 0.0
                for a in range(P):
                    ia = I0[a]
                    if ia < 0:
                        continue
                    for b in range(P):
                        ib = I1[b]
                        if ib >= 0:
                            acc += W0[a] * W1[b] * field[m, ia, ib, 0]
                out[q, m] = acc
    else:
        for q in range(lo, hi):
            W0, I0, W1, I1, W2, I2 = _stencil(np.float64(pos[q, 0]), np.float64(pos[q, 1]),
                                              np.float64(pos[q, 2]), orig, ih, shape, per, P, 3, off)
            for m in range(nc):
                acc = 0.0
                for a in range(P):
                    ia = I0[a]
                    if ia < 0:
                        continue
                    for b in range(P):
                        ib = I1[b]
                        if ib < 0:
                            continue
                        wab = W0[a] * W1[b]
                        for c in range(P):
                            ic = I2[c]
                            if ic >= 0:
                                acc += wab * W2[c] * field[m, ia, ib, ic]
                out[q, m] = acc


@njit(**_JIT)
def valid(xq, orig, ih, shape, per, P, ndim):
    """0 if a particle at ``xq`` (3 coordinates) is usable; 1 non-finite; 2 + a if its stencil
    leaves bounded axis a; ``FAR`` if it lies more than one period outside the box on a
    periodic axis (the caller reduces it exactly and tries again: the kernels' integer cell
    index would overflow). ``FAR`` on any axis comes before a stencil leaving a bounded one: so
    the rows the caller wraps are those far on some periodic axis whatever the window, which
    lets a split grid find a particle's home plane as the deposit will (parallel.particles)."""
    for a in range(ndim):
        if not math.isfinite(xq[a]):
            return 1
    for a in range(ndim):
        if per[a] and not (-shape[a] <= (xq[a] - orig[a]) * ih[a] < 2 * shape[a]):
            return FAR
    for a in range(ndim):
        if not per[a]:
            s = window_weights((xq[a] - orig[a]) * ih[a] - 0.5, P)[0]
            if s < 0 or s + P > shape[a]:
                return 2 + a
    return 0


@njit(**_JIT)
def bad(v, allow_outside):
    return v == 1 or v == FAR or (v > 1 and not allow_outside)


@njit(inline="always", **_JIT)
def _axis_bad(x, o, ih, n, per, P, allow_outside):
    if not math.isfinite(x):
        return True
    u = (x - o) * ih
    if per:
        return not (-n <= u < 2 * n)
    if allow_outside:
        return False
    s = window_weights(u - 0.5, P)[0]
    return s < 0 or s + P > n


@njit(inline="always", **_JIT)
def is_bad(x0, x1, x2, orig, ih, shape, per, P, ndim, allow_outside):
    """``bad(valid(...))`` without the status code, axis by axis with no loop over tuples (the
    check runs before every deposit and readout: 3-10x faster this way). Scalars only: an
    array passed to a helper, even an inlined one, costs reference counting per particle."""
    b = _axis_bad(x0, orig[0], ih[0], shape[0], per[0], P, allow_outside)
    if ndim > 1:
        b = b or _axis_bad(x1, orig[1], ih[1], shape[1], per[1], P, allow_outside)
    if ndim > 2:
        b = b or _axis_bad(x2, orig[2], ih[2], shape[2], per[2], P, allow_outside)
    return b
