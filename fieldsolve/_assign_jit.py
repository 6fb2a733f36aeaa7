"""numba kernels behind :mod:`fieldsolve.assign` (deposit / readout / sort).

Positions stay in physical units and are mapped to cell-centre units ``u = (x - origin)/h - 1/2``
(cell ``i`` centred at ``u = i``). The per-particle loops are written once
(``_paint_particles`` / ``_read_particles``) with the window order ``P`` and the dimension
``NDIM`` as run-time arguments and the weights in tuples (registers, no heap scratch): one
compiled kernel per dtype serves every (dimension, window) pair, which keeps the cold JIT
cost to seconds. (Specialising per (P, NDIM) was tried: compile time and memory exploded.)

Parallel deposit is deterministic by construction: particles are stably sorted into slabs
along axis 0 (a parallel counting sort; a stable sort has one answer whatever the thread
count), slabs of even index are painted in parallel, then those of odd index. Slabs are at
least ``P - 1`` planes wide, so two slabs of one colour never touch the same plane; the slab
count depends on the grid and window only, so the summation order in every cell, and thus
every bit of the result, is the same for 1 or N threads. No atomics, no per-thread grids.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

_JIT = dict(cache=True, nogil=True)
_INLINE = dict(cache=True, nogil=True)  # small helpers: LLVM inlines them
NCHUNK = 64  # fixed work split of the sort passes (results do not depend on it)


@njit(**_INLINE)
def _weights(u, P):
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


@njit(**_INLINE)
def _mod(i, n):
    """``i mod n`` in ``[0, n)`` without an integer division (tens of cycles) in the common
    case of a particle at most one period outside the box."""
    if i < 0:
        i += n
    elif i >= n:
        i -= n
    if i < 0 or i >= n:
        i %= n
    return i


@njit(**_INLINE)
def _indices(s, n, per):
    """Cell indices of the 4 stencil slots: wrapped on a periodic axis, -1 off a bounded one."""
    if per:
        s = _mod(s, n)
        return s, _mod(s + 1, n), _mod(s + 2, n), _mod(s + 3, n)
    i0 = s if 0 <= s < n else -1
    i1 = s + 1 if 0 <= s + 1 < n else -1
    i2 = s + 2 if 0 <= s + 2 < n else -1
    i3 = s + 3 if 0 <= s + 3 < n else -1
    return i0, i1, i2, i3


@njit(**_INLINE)
def _axis(x, o, ih, n, per, P):
    s, w0, w1, w2, w3 = _weights((x - o) * ih - 0.5, P)
    return (w0, w1, w2, w3), _indices(s, n, per)


@njit(**_INLINE)
def _stencil(pos, q, orig, ih, shape, per, P, NDIM):
    """Weights and cell indices of particle q on each axis (unit weight at index 0 on the
    axes a lower-dimensional grid does not have)."""
    W0, I0 = _axis(pos[q, 0], orig[0], ih[0], shape[0], per[0], P)
    W1 = (1.0, 0.0, 0.0, 0.0)
    I1 = (0, 0, 0, 0)
    W2 = W1
    I2 = I1
    if NDIM > 1:
        W1, I1 = _axis(pos[q, 1], orig[1], ih[1], shape[1], per[1], P)
    if NDIM > 2:
        W2, I2 = _axis(pos[q, 2], orig[2], ih[2], shape[2], per[2], P)
    return W0, I0, W1, I1, W2, I2


@njit(**_INLINE)
def _paint_particles(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, P, NDIM):
    nc = grid.shape[0]
    P1 = P if NDIM > 1 else 1
    P2 = P if NDIM > 2 else 1
    for q in range(lo, hi):
        W0, I0, W1, I1, W2, I2 = _stencil(pos, q, orig, ih, shape, per, P, NDIM)
        qw = q * wstep
        for a in range(P):
            ia = I0[a]
            if ia < 0:
                continue
            for b in range(P1):
                ib = I1[b]
                if ib < 0:
                    continue
                wab = W0[a] * W1[b]
                for c in range(P2):
                    ic = I2[c]
                    if ic < 0:
                        continue
                    wabc = wab * W2[c]
                    for m in range(nc):
                        grid[m, ia, ib, ic] += wabc * wts[qw, m]


@njit(**_JIT)
def paint_serial(grid, pos, wts, wstep, orig, ih, shape, per, P, ndim, fast):
    _paint_block(grid, pos, wts, wstep, 0, pos.shape[0], orig, ih, shape, per, P, ndim, fast)


@njit(**_INLINE)
def _paint_block(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, P, ndim, fast):
    if fast and P == 2:
        paint3_cic(grid, pos, wts, wstep, lo, hi, orig, ih, shape)
    elif fast and P == 3:
        paint3_tsc(grid, pos, wts, wstep, lo, hi, orig, ih, shape)
    else:
        _paint_particles(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, P, ndim)


@njit(parallel=True, **_JIT)
def paint_slabs(grid, pos, wts, wstep, starts, orig, ih, shape, per, P, ndim, fast):
    nslab = starts.shape[0] - 1
    for colour in range(2):
        for j in prange((nslab + 1) // 2):
            k = 2 * j + colour
            if k < nslab:
                _paint_block(grid, pos, wts, wstep, starts[k], starts[k + 1], orig, ih,
                             shape, per, P, ndim, fast)


FAR = 5  # status of a particle more than one period outside the box on a periodic axis


@njit(**_INLINE)
def _valid(pos, q, orig, ih, shape, per, P, ndim):
    """0 if particle q is usable; 1 non-finite; 2 + a if its stencil leaves bounded axis a;
    ``FAR`` if it lies more than one period outside the box on a periodic axis (the caller
    reduces it exactly and tries again: the kernels' integer cell index would overflow)."""
    for a in range(ndim):
        x = pos[q, a]
        if not math.isfinite(x):
            return 1
    for a in range(ndim):
        u = (pos[q, a] - orig[a]) * ih[a]
        if per[a]:
            if not (-shape[a] <= u < 2 * shape[a]):
                return FAR
        else:
            s = _weights(u - 0.5, P)[0]
            if s < 0 or s + P > shape[a]:
                return 2 + a
    return 0


@njit(**_INLINE)
def _bad(v, allow_outside):
    return v == 1 or v == FAR or (v > 1 and not allow_outside)


@njit(parallel=True, **_JIT)
def check_positions(pos, orig, ih, shape, per, P, ndim, allow_outside):
    """Per-particle status code (see ``_valid``); with ``allow_outside`` a stencil leaving a
    bounded axis does not count."""
    n = pos.shape[0]
    status = np.zeros(n, np.int8)
    for q in prange(n):
        v = _valid(pos, q, orig, ih, shape, per, P, ndim)
        if _bad(v, allow_outside):
            status[q] = v
    return status


@njit(parallel=True, **_JIT)
def slab_sort(pos, wts, wstep, orig, ih, shape, per, P, ndim, allow_outside, width, nslab,
              key, pos_s, wts_s, index):
    """Validate, then stably sort particles (and weights) into slabs along axis 0.

    Fills the caller's ``key`` (N,) int32 scratch, ``pos_s`` (like ``pos``), ``wts_s``
    ((N, C), or (1, C) when ``wstep`` is 0) and ``index`` ((N,) with ``pos_s[d] =
    pos[index[d]]``, or empty when not wanted). Outputs come from NumPy (huge pages), not
    from here: first-touch page faults on a fresh 4 KiB-page array were half the sort time.
    Returns ``(nbad, starts)``; with ``nbad > 0`` nothing is sorted."""
    n = pos.shape[0]
    hist = np.zeros((NCHUNK, nslab), np.int64)
    bad = np.zeros(NCHUNK, np.int64)
    chunk = (n + NCHUNK - 1) // NCHUNK
    inv_width = 1.0 / width
    for c in prange(NCHUNK):
        for q in range(c * chunk, min(n, (c + 1) * chunk)):
            v = _valid(pos, q, orig, ih, shape, per, P, ndim)
            if _bad(v, allow_outside):
                bad[c] += 1
                key[q] = 0
                continue
            s = _weights((pos[q, 0] - orig[0]) * ih[0] - 0.5, P)[0]
            if per[0]:
                s = _mod(s, shape[0])
            k = int((s + 0.5) * inv_width)  # s // width without a division: exact
            if k < 0:
                k = 0
            if k >= nslab:
                k = nslab - 1
            key[q] = k
            hist[c, k] += 1
    nbad = bad.sum()
    starts = np.zeros(nslab + 1, np.int64)
    if nbad > 0:
        return nbad, starts
    for k in range(nslab):
        starts[k + 1] = starts[k] + hist[:, k].sum()
    offset = np.empty((NCHUNK, nslab), np.int64)
    for k in range(nslab):
        o = starts[k]
        for c in range(NCHUNK):
            offset[c, k] = o
            o += hist[c, k]
    if not wstep:
        wts_s[0] = wts[0]
    want_index = index.shape[0] > 0
    for c in prange(NCHUNK):
        off = offset[c].copy()
        for q in range(c * chunk, min(n, (c + 1) * chunk)):
            k = key[q]
            d = off[k]
            off[k] = d + 1
            for a in range(pos.shape[1]):
                pos_s[d, a] = pos[q, a]
            if want_index:
                index[d] = q
            if wstep:
                for m in range(wts.shape[1]):
                    wts_s[d, m] = wts[q, m]
    return 0, starts


@njit(parallel=True, **_JIT)
def unsort_rows(a, index, out):
    """``out[index[d]] = a[d]``: undo the slab sort on per-particle results."""
    for d in prange(a.shape[0]):
        for m in range(a.shape[1]):
            out[index[d], m] = a[d, m]
    return out


@njit(**_INLINE)
def _read_particles(field, pos, out, lo, hi, orig, ih, shape, per, P, NDIM):
    nc = field.shape[0]
    P1 = P if NDIM > 1 else 1
    P2 = P if NDIM > 2 else 1
    for q in range(lo, hi):
        W0, I0, W1, I1, W2, I2 = _stencil(pos, q, orig, ih, shape, per, P, NDIM)
        for m in range(nc):
            acc = 0.0
            for a in range(P):
                ia = I0[a]
                if ia < 0:
                    continue
                for b in range(P1):
                    ib = I1[b]
                    if ib < 0:
                        continue
                    wab = W0[a] * W1[b]
                    for c in range(P2):
                        ic = I2[c]
                        if ic < 0:
                            continue
                        acc += wab * W2[c] * field[m, ia, ib, ic]
            out[q, m] = acc


@njit(parallel=True, **_JIT)
def readout(field, pos, orig, ih, shape, per, P, ndim, allow_outside, chunk, fast, out):
    """Gather the field at every particle into ``out`` (N, C); returns ``nbad`` (``out`` is
    unusable if it is not 0)."""
    n = pos.shape[0]
    nchunk = (n + chunk - 1) // chunk
    bad = np.zeros(nchunk, np.int64)
    for j in prange(nchunk):
        lo = j * chunk
        hi = min(n, lo + chunk)
        for q in range(lo, hi):
            v = _valid(pos, q, orig, ih, shape, per, P, ndim)
            if _bad(v, allow_outside):
                bad[j] += 1
        if bad[j] == 0:
            if fast and P == 2:
                read3_cic(field, pos, out, lo, hi, orig, ih, shape)
            elif fast and P == 3:
                read3_tsc(field, pos, out, lo, hi, orig, ih, shape)
            else:
                _read_particles(field, pos, out, lo, hi, orig, ih, shape, per, P, ndim)
    return bad.sum()


@njit(**_JIT)
def cell_keys(pos, orig, ih, shape, ndim):
    """Flat index of the cell containing each particle (periodic wrap on every axis)."""
    n = pos.shape[0]
    key = np.empty(n, np.int64)
    for q in range(n):
        flat = 0
        for a in range(ndim):
            i = _mod(math.floor((pos[q, a] - orig[a]) * ih[a]), shape[a])
            flat = flat * shape[a] + i
        key[q] = flat
    return key


@njit(**_JIT)
def counting_sort(key, nbins):
    """Stable counting sort: ``order`` with ``key[order]`` non-decreasing."""
    counts = np.zeros(nbins + 1, np.int64)
    for q in range(key.shape[0]):
        counts[key[q] + 1] += 1
    for b in range(nbins):
        counts[b + 1] += counts[b]
    order = np.empty(key.shape[0], np.int64)
    for q in range(key.shape[0]):
        b = key[q]
        order[counts[b]] = q
        counts[b] += 1
    return order


# -- hand-unrolled fast paths: 3-D, periodic on every axis, CIC and TSC, C components --------
# (the common PM case; about 2x the throughput of the generic loops above). Readout gathers
# from anywhere in the grid; once the grid outgrows the caches every particle waits for
# memory, so the kernels prefetch the lines of the particle PREFETCH places ahead (measured:
# random-order CIC readout at 256^3 went from 29 to 60 Mpart/s, 128^3 gained 30%).

PREFETCH = 16


@intrinsic
def _prefetch(typingctx, addr):
    """LLVM ``prefetch`` (read, high locality) of the byte address ``addr``: a hint that never
    faults and does not change any result."""
    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        # llvmlite mangles the pointer type for the LLVM in use (p0i8 typed, p0 opaque)
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
        builder.call(fn, [builder.inttoptr(args[0], i8p), ir.Constant(i32, 0),
                          ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(types.uintp), codegen


@njit(**_INLINE)
def _cic1(x, o, ih, n):
    u = (x - o) * ih - 0.5
    s = math.floor(u)
    d = u - s
    i = _mod(s, n)
    j = i + 1
    if j == n:
        j = 0
    return i, j, 1.0 - d, d


@njit(**_INLINE)
def _tsc1(x, o, ih, n):
    u = (x - o) * ih - 0.5
    c = math.floor(u + 0.5)
    d = u - c
    j = _mod(c, n)
    i = j - 1
    if i < 0:
        i = n - 1
    k = j + 1
    if k == n:
        k = 0
    return (i, j, k), (0.5 * (0.5 - d) * (0.5 - d), 0.75 - d * d, 0.5 * (0.5 + d) * (0.5 + d))


@njit(**_JIT)
def paint3_cic(g, pos, wts, wstep, lo, hi, orig, ih, shape):
    for q in range(lo, hi):
        x0, x1, wx0, wx1 = _cic1(pos[q, 0], orig[0], ih[0], shape[0])
        y0, y1, wy0, wy1 = _cic1(pos[q, 1], orig[1], ih[1], shape[1])
        z0, z1, wz0, wz1 = _cic1(pos[q, 2], orig[2], ih[2], shape[2])
        for m in range(g.shape[0]):
            w = wts[q * wstep, m]
            a = wx0 * w
            b = wx1 * w
            g[m, x0, y0, z0] += a * wy0 * wz0
            g[m, x0, y0, z1] += a * wy0 * wz1
            g[m, x0, y1, z0] += a * wy1 * wz0
            g[m, x0, y1, z1] += a * wy1 * wz1
            g[m, x1, y0, z0] += b * wy0 * wz0
            g[m, x1, y0, z1] += b * wy0 * wz1
            g[m, x1, y1, z0] += b * wy1 * wz0
            g[m, x1, y1, z1] += b * wy1 * wz1


@njit(**_JIT)
def paint3_tsc(g, pos, wts, wstep, lo, hi, orig, ih, shape):
    for q in range(lo, hi):
        xi, xw = _tsc1(pos[q, 0], orig[0], ih[0], shape[0])
        yi, yw = _tsc1(pos[q, 1], orig[1], ih[1], shape[1])
        zi, zw = _tsc1(pos[q, 2], orig[2], ih[2], shape[2])
        for m in range(g.shape[0]):
            w = wts[q * wstep, m]
            for a in range(3):
                ia = xi[a]
                wa = xw[a] * w
                for b in range(3):
                    ib = yi[b]
                    wab = wa * yw[b]
                    g[m, ia, ib, zi[0]] += wab * zw[0]
                    g[m, ia, ib, zi[1]] += wab * zw[1]
                    g[m, ia, ib, zi[2]] += wab * zw[2]


@njit(**_JIT)
def read3_cic(f, pos, out, lo, hi, orig, ih, shape):
    base = f.ctypes.data
    sm, s0, s1, s2 = f.strides
    for q in range(lo, hi):
        p = q + PREFETCH
        if p < hi:  # the 4 (x, y) rows particle p will read (z neighbours share the line)
            a0, a1, _, _ = _cic1(pos[p, 0], orig[0], ih[0], shape[0])
            b0, b1, _, _ = _cic1(pos[p, 1], orig[1], ih[1], shape[1])
            c0 = _cic1(pos[p, 2], orig[2], ih[2], shape[2])[0]
            for m in range(f.shape[0]):
                r = base + m * sm + c0 * s2
                _prefetch(r + a0 * s0 + b0 * s1)
                _prefetch(r + a0 * s0 + b1 * s1)
                _prefetch(r + a1 * s0 + b0 * s1)
                _prefetch(r + a1 * s0 + b1 * s1)
        x0, x1, wx0, wx1 = _cic1(pos[q, 0], orig[0], ih[0], shape[0])
        y0, y1, wy0, wy1 = _cic1(pos[q, 1], orig[1], ih[1], shape[1])
        z0, z1, wz0, wz1 = _cic1(pos[q, 2], orig[2], ih[2], shape[2])
        for m in range(f.shape[0]):
            out[q, m] = (wx0 * (wy0 * (wz0 * f[m, x0, y0, z0] + wz1 * f[m, x0, y0, z1])
                                + wy1 * (wz0 * f[m, x0, y1, z0] + wz1 * f[m, x0, y1, z1]))
                         + wx1 * (wy0 * (wz0 * f[m, x1, y0, z0] + wz1 * f[m, x1, y0, z1])
                                  + wy1 * (wz0 * f[m, x1, y1, z0] + wz1 * f[m, x1, y1, z1])))


@njit(**_JIT)
def read3_tsc(f, pos, out, lo, hi, orig, ih, shape):
    base = f.ctypes.data
    sm, s0, s1, s2 = f.strides
    for q in range(lo, hi):
        p = q + PREFETCH
        if p < hi:  # the 9 (x, y) rows particle p will read
            pa = _tsc1(pos[p, 0], orig[0], ih[0], shape[0])[0]
            pb = _tsc1(pos[p, 1], orig[1], ih[1], shape[1])[0]
            pc = _tsc1(pos[p, 2], orig[2], ih[2], shape[2])[0][0]
            for m in range(f.shape[0]):
                r = base + m * sm + pc * s2
                for a in range(3):
                    ra = r + pa[a] * s0
                    _prefetch(ra + pb[0] * s1)
                    _prefetch(ra + pb[1] * s1)
                    _prefetch(ra + pb[2] * s1)
        xi, xw = _tsc1(pos[q, 0], orig[0], ih[0], shape[0])
        yi, yw = _tsc1(pos[q, 1], orig[1], ih[1], shape[1])
        zi, zw = _tsc1(pos[q, 2], orig[2], ih[2], shape[2])
        for m in range(f.shape[0]):
            acc = 0.0
            for a in range(3):
                ia = xi[a]
                for b in range(3):
                    ib = yi[b]
                    acc += xw[a] * yw[b] * (zw[0] * f[m, ia, ib, zi[0]]
                                           + zw[1] * f[m, ia, ib, zi[1]]
                                           + zw[2] * f[m, ia, ib, zi[2]])
            out[q, m] = acc
