"""numba kernels behind :mod:`fieldsolve.assign` (deposit / readout / sort).

Every kernel works on a 3-D embedding of the grid: a 1-D or 2-D grid is viewed as
``(C, n0, n1, n2)`` with trailing axes of length 1 and window order 1 there, so one compiled
kernel per dtype serves every dimension and window. Positions stay in physical units and are
mapped to cell-centre units ``u = (x - origin)/h - 1/2`` (cell ``i`` centred at ``u = i``).

Parallel deposit is deterministic by construction: particles are stably counting-sorted into
slabs along axis 0, slabs of even index are painted in parallel, then those of odd index. Slabs
are at least ``p - 1`` planes wide, so two slabs of one colour never touch the same plane; the
slab count depends on the grid and window only, never on the thread count, so the summation
order (and thus every bit of the result) is the same for 1 or N threads. No atomics.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

_JIT = dict(cache=True, nogil=True)


@njit(inline="always", **_JIT)
def _stencil(u, p, w):
    """Fill ``w[:p]`` with the order-``p`` weights of a particle at ``u`` (cell-centre units)
    and return the index of the first cell of its stencil (not wrapped)."""
    if p == 1:
        s = math.floor(u + 0.5)
        w[0] = 1.0
        return s
    if p == 2:
        s = math.floor(u)
        d = u - s
        w[0] = 1.0 - d
        w[1] = d
        return s
    if p == 3:
        c = math.floor(u + 0.5)
        d = u - c
        w[0] = 0.5 * (0.5 - d) * (0.5 - d)
        w[1] = 0.75 - d * d
        w[2] = 0.5 * (0.5 + d) * (0.5 + d)
        return c - 1
    f = math.floor(u)
    d = u - f
    e = 1.0 - d
    w[0] = e * e * e / 6.0
    w[1] = (4.0 - 6.0 * d * d + 3.0 * d * d * d) / 6.0
    w[2] = (4.0 - 6.0 * e * e + 3.0 * e * e * e) / 6.0
    w[3] = d * d * d / 6.0
    return f - 1


@njit(inline="always", **_JIT)
def _axis_stencil(x, o, ih, n, per, p, w, idx):
    """Weights and (wrapped, or -1 when off a bounded grid) indices along one axis."""
    s = _stencil((x - o) * ih - 0.5, p, w)
    if per:
        s = s % n
        for a in range(p):
            i = s + a
            while i >= n:
                i -= n
            idx[a] = i
    else:
        for a in range(p):
            i = s + a
            idx[a] = i if (i >= 0 and i < n) else -1


@njit(**_JIT)
def _paint_range(grid, pos, wts, lo, hi, ndim, orig, ih, shape, per, pax, w0, w1, w2, i0, i1, i2):
    nc = grid.shape[0]
    for q in range(lo, hi):
        _axis_stencil(pos[q, 0], orig[0], ih[0], shape[0], per[0], pax[0], w0, i0)
        if ndim > 1:
            _axis_stencil(pos[q, 1], orig[1], ih[1], shape[1], per[1], pax[1], w1, i1)
        if ndim > 2:
            _axis_stencil(pos[q, 2], orig[2], ih[2], shape[2], per[2], pax[2], w2, i2)
        for a in range(pax[0]):
            ia = i0[a]
            if ia < 0:
                continue
            for b in range(pax[1]):
                ib = i1[b]
                if ib < 0:
                    continue
                wab = w0[a] * w1[b]
                for c in range(pax[2]):
                    ic = i2[c]
                    if ic < 0:
                        continue
                    wabc = wab * w2[c]
                    for m in range(nc):
                        grid[m, ia, ib, ic] += wabc * wts[q, m]


@njit(**_JIT)
def _scratch(ndim):
    w0 = np.ones(4)
    w1 = np.ones(4)
    w2 = np.ones(4)
    i0 = np.zeros(4, np.int64)
    i1 = np.zeros(4, np.int64)
    i2 = np.zeros(4, np.int64)
    return w0, w1, w2, i0, i1, i2


@njit(**_JIT)
def paint_serial(grid, pos, wts, ndim, orig, ih, shape, per, pax):
    w0, w1, w2, i0, i1, i2 = _scratch(ndim)
    _paint_range(grid, pos, wts, 0, pos.shape[0], ndim, orig, ih, shape, per, pax,
                 w0, w1, w2, i0, i1, i2)


@njit(parallel=True, **_JIT)
def slab_keys(pos, orig0, ih0, n0, per0, p, width, nslab):
    """Slab index of every particle: the slab holding the first plane of its stencil."""
    n = pos.shape[0]
    key = np.empty(n, np.int32)
    for q in prange(n):
        w = np.empty(4)
        s = _stencil((pos[q, 0] - orig0) * ih0 - 0.5, p, w)
        if per0:
            s = s % n0
        k = s // width
        if k < 0:
            k = 0
        if k >= nslab:
            k = nslab - 1
        key[q] = k
    return key


@njit(**_JIT)
def counting_sort(key, nbins):
    """Stable counting sort: returns ``order`` (particles grouped by key) and bin starts."""
    counts = np.zeros(nbins + 1, np.int64)
    for q in range(key.shape[0]):
        counts[key[q] + 1] += 1
    for b in range(nbins):
        counts[b + 1] += counts[b]
    starts = counts.copy()
    order = np.empty(key.shape[0], np.int64)
    for q in range(key.shape[0]):
        b = key[q]
        order[counts[b]] = q
        counts[b] += 1
    return order, starts


@njit(parallel=True, **_JIT)
def gather_rows(a, order):
    out = np.empty((order.shape[0], a.shape[1]), a.dtype)
    for q in prange(order.shape[0]):
        for m in range(a.shape[1]):
            out[q, m] = a[order[q], m]
    return out


@njit(parallel=True, **_JIT)
def paint_slabs(grid, pos, wts, starts, ndim, orig, ih, shape, per, pax):
    nslab = starts.shape[0] - 1
    for colour in range(2):
        for j in prange(nslab // 2 + 1):
            k = 2 * j + colour
            if k < nslab:
                w0, w1, w2, i0, i1, i2 = _scratch(ndim)
                _paint_range(grid, pos, wts, starts[k], starts[k + 1], ndim, orig, ih, shape,
                             per, pax, w0, w1, w2, i0, i1, i2)


@njit(parallel=True, **_JIT)
def readout(field, pos, ndim, orig, ih, shape, per, pax, chunk):
    n = pos.shape[0]
    nc = field.shape[0]
    out = np.zeros((n, nc))
    nchunk = (n + chunk - 1) // chunk
    for j in prange(nchunk):
        w0, w1, w2, i0, i1, i2 = _scratch(ndim)
        acc = np.empty(nc)
        for q in range(j * chunk, min(n, (j + 1) * chunk)):
            _axis_stencil(pos[q, 0], orig[0], ih[0], shape[0], per[0], pax[0], w0, i0)
            if ndim > 1:
                _axis_stencil(pos[q, 1], orig[1], ih[1], shape[1], per[1], pax[1], w1, i1)
            if ndim > 2:
                _axis_stencil(pos[q, 2], orig[2], ih[2], shape[2], per[2], pax[2], w2, i2)
            acc[:] = 0.0
            for a in range(pax[0]):
                ia = i0[a]
                if ia < 0:
                    continue
                for b in range(pax[1]):
                    ib = i1[b]
                    if ib < 0:
                        continue
                    wab = w0[a] * w1[b]
                    for c in range(pax[2]):
                        ic = i2[c]
                        if ic < 0:
                            continue
                        wabc = wab * w2[c]
                        for m in range(nc):
                            acc[m] += wabc * field[m, ia, ib, ic]
            for m in range(nc):
                out[q, m] = acc[m]
    return out


@njit(parallel=True, **_JIT)
def check_positions(pos, ndim, orig, ih, shape, per, pax):
    """Count non-finite positions and, per axis, stencils that leave a bounded grid."""
    n = pos.shape[0]
    bad = np.zeros((n, 4), np.bool_)
    for q in prange(n):
        w = np.empty(4)
        for a in range(ndim):
            x = pos[q, a]
            if not math.isfinite(x):
                bad[q, 3] = True
                continue
            if not per[a]:
                s = _stencil((x - orig[a]) * ih[a] - 0.5, pax[a], w)
                if s < 0 or s + pax[a] > shape[a]:
                    bad[q, a] = True
    return bad


@njit(**_JIT)
def cell_keys(pos, ndim, orig, ih, shape):
    """Flat index of the cell containing each particle (periodic wrap on every axis)."""
    n = pos.shape[0]
    key = np.empty(n, np.int64)
    for q in range(n):
        flat = 0
        for a in range(ndim):
            i = math.floor((pos[q, a] - orig[a]) * ih[a]) % shape[a]
            flat = flat * shape[a] + i
        key[q] = flat
    return key
