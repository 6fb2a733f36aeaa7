"""numba drivers behind :mod:`fieldsolve.assign`: validation, slab sort, serial and parallel
deposit and readout over the per-particle kernels (:mod:`._assign_generic`, any window and
dimension; :mod:`._assign_fast`, unrolled 3-D CIC/TSC).

Parallel deposit is deterministic by construction: particles are stably sorted into slabs
along axis 0 (a parallel counting sort; a stable sort has one answer whatever the thread
count), slabs of even index are painted in parallel, then those of odd index. Slabs are at
least ``P - 1`` planes wide, so two slabs of one colour never touch the same plane; the slab
count depends on the grid and window only, so the summation order in every cell, and thus
every bit of the result, is the same for 1 or N threads. No atomics, no per-thread grids.
The serial kernels paint in input order without sorting (small problems, where a sort and the
start of a thread team cost more than they save); they are not bitwise equal to the slab path.

Grid geometry arrives as tuples padded to 3 axes: ``orig``, ``ih`` (1/h), ``shape``, ``per``.
The array painted or read may be a slab of the grid's axis 0 (a split grid's planes plus ghost
planes, :mod:`fieldsolve.parallel.particles`): ``off`` is the grid cell at its plane 0, and
slabs of the parallel paint are slabs of its own planes.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._assign_fast import paint3_cic, paint3_tsc, read3_cic, read3_tsc
from ._assign_generic import (FAR, bad, is_bad, paint_block, read_block, valid, window_weights,
                              wrap)

__all__ = ["FAR", "check_positions", "paint_serial", "paint_slabs", "slab_sort", "unsort_rows",
           "readout", "readout_serial", "cell_keys", "counting_sort", "home_ranks"]

_JIT = dict(cache=True, nogil=True)
NCHUNK = 64  # fixed work split of the sort passes (results do not depend on it)


@intrinsic
def _claim(typingctx, counter, slot):
    """Atomically ``counter[slot] += 1`` and return the old value: the next work item.

    numba's ``prange`` splits its range statically, one block per thread, and then waits for
    the slowest; a thread that shares its core with another process (a loaded machine, MPI
    ranks) made 2 threads slower than 1. Each parallel loop here instead runs one iteration
    per thread that claims items until none are left, so a delayed thread takes fewer items.
    Which thread paints a slab never changes its result, so the output stays bitwise the same."""
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", ptr, one, "monotonic")
    return types.int64(counter, slot), codegen


@njit(**_JIT)
def _paint_range(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, P, ndim, fast, off):
    if fast and P == 2:
        paint3_cic(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, off)
    elif fast and P == 3:
        paint3_tsc(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, off)
    else:
        paint_block(grid, pos, wts, wstep, lo, hi, orig, ih, shape, per, P, ndim, off)


@njit(**_JIT)
def _count_bad(pos, lo, hi, orig, ih, shape, per, P, ndim, allow_outside):
    n = 0
    for q in range(lo, hi):
        # coordinates read here, not in a helper: see _assign_generic.is_bad
        x1 = np.float64(pos[q, 1]) if ndim > 1 else 0.0
        x2 = np.float64(pos[q, 2]) if ndim > 2 else 0.0
        if is_bad(np.float64(pos[q, 0]), x1, x2, orig, ih, shape, per, P, ndim, allow_outside):
            n += 1
    return n


@njit(**_JIT)
def paint_serial(grid, pos, wts, wstep, orig, ih, shape, per, P, ndim, fast, allow_outside, off):
    """Validate, then paint every particle in input order on this thread. Returns the number
    of bad particles; if it is not 0, nothing was painted. ``off``: the cell of axis 0 at
    plane 0 of ``grid`` (0 for a whole grid; a slab's first ghost plane on a split grid)."""
    nbad = _count_bad(pos, 0, pos.shape[0], orig, ih, shape, per, P, ndim, allow_outside)
    if nbad == 0:
        _paint_range(grid, pos, wts, wstep, 0, pos.shape[0], orig, ih, shape, per, P, ndim, fast,
                     off)
    return nbad


@njit(parallel=True, **_JIT)
def paint_slabs(grid, pos, wts, wstep, starts, orig, ih, shape, per, P, ndim, fast, nthreads, off):
    nslab = starts.shape[0] - 1
    claims = np.zeros(2, np.int64)
    for colour in range(2):
        for _ in prange(nthreads):
            while True:
                k = 2 * _claim(claims, colour) + colour
                if k >= nslab:
                    break
                _paint_range(grid, pos, wts, wstep, starts[k], starts[k + 1], orig, ih,
                             shape, per, P, ndim, fast, off)


@njit(parallel=True, **_JIT)
def check_positions(pos, orig, ih, shape, per, P, ndim, allow_outside):
    """Per-particle status code (see ``valid``); with ``allow_outside`` a stencil leaving a
    bounded axis does not count."""
    n = pos.shape[0]
    status = np.zeros(n, np.int8)
    for q in prange(n):
        x1 = np.float64(pos[q, 1]) if ndim > 1 else 0.0
        x2 = np.float64(pos[q, 2]) if ndim > 2 else 0.0
        v = valid((np.float64(pos[q, 0]), x1, x2), orig, ih, shape, per, P, ndim)
        if bad(v, allow_outside):
            status[q] = v
    return status


@njit(**_JIT)
def _histogram(pos, lo, hi, orig, ih, shape, per, P, ndim, allow_outside, inv_width, nslab, key,
               hist, nbad, off):
    """First sort pass over particles ``lo:hi``: slab keys (slabs of the array's planes, its
    plane 0 at cell ``off``), their histogram, bad particles."""
    for q in range(lo, hi):
        x1 = np.float64(pos[q, 1]) if ndim > 1 else 0.0
        x2 = np.float64(pos[q, 2]) if ndim > 2 else 0.0
        if is_bad(np.float64(pos[q, 0]), x1, x2, orig, ih, shape, per, P, ndim, allow_outside):
            nbad[0] += 1
            key[q] = 0
            continue
        s = window_weights((pos[q, 0] - orig[0]) * ih[0] - 0.5, P)[0]
        if per[0]:
            s = wrap(s - off, shape[0])
        else:
            s -= off
        k = int((s + 0.5) * inv_width)  # s // width without a division: exact
        if k < 0:
            k = 0
        if k >= nslab:
            k = nslab - 1
        key[q] = k
        hist[k] += 1


@njit(**_JIT)
def _scatter(pos, wts, wstep, lo, hi, key, off, pos_s, wts_s, index):
    """Second sort pass: particles ``lo:hi`` to their places (``off``: next free row per slab)."""
    for q in range(lo, hi):
        k = key[q]
        d = off[k]
        off[k] = d + 1
        for a in range(pos.shape[1]):
            pos_s[d, a] = pos[q, a]
        if index.shape[0] > 0:
            index[d] = q
        if wstep:
            for m in range(wts.shape[1]):
                wts_s[d, m] = wts[q, m]


@njit(parallel=True, **_JIT)
def slab_sort(pos, wts, wstep, orig, ih, shape, per, P, ndim, allow_outside, width, nslab,
              key, pos_s, wts_s, index, nthreads, off):
    """Validate, then stably sort particles (and weights) into slabs along axis 0.

    Fills the caller's ``key`` (N,) int32 scratch, ``pos_s`` (like ``pos``), ``wts_s``
    ((N, C), or (1, C) when ``wstep`` is 0) and ``index`` ((N,) with ``pos_s[d] =
    pos[index[d]]``, or empty when not wanted). Outputs come from NumPy (huge pages), not
    from here: first-touch page faults on a fresh 4 KiB-page array were half the sort time.
    Returns ``(nbad, starts)``; with ``nbad > 0`` nothing is sorted. ``nthreads``: numba's
    thread count (read in Python: a call to it from here could not be cached). ``off``: as
    in :func:`paint_serial` (slabs of the array's own planes)."""
    n = pos.shape[0]
    hist = np.zeros((NCHUNK, nslab), np.int64)
    nbad = np.zeros(NCHUNK, np.int64)
    chunk = (n + NCHUNK - 1) // NCHUNK
    inv_width = 1.0 / width
    claims = np.zeros(2, np.int64)
    for _ in prange(nthreads):
        while True:
            c = _claim(claims, 0)
            if c >= NCHUNK:
                break
            _histogram(pos, c * chunk, min(n, (c + 1) * chunk), orig, ih, shape, per, P, ndim,
                       allow_outside, inv_width, nslab, key, hist[c], nbad[c:c + 1], off)
    total_bad = nbad.sum()
    starts = np.zeros(nslab + 1, np.int64)
    if total_bad > 0:
        return total_bad, starts
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
    for _ in prange(nthreads):
        while True:
            c = _claim(claims, 1)
            if c >= NCHUNK:
                break
            _scatter(pos, wts, wstep, c * chunk, min(n, (c + 1) * chunk), key, offset[c].copy(),
                     pos_s, wts_s, index)
    return 0, starts


@njit(parallel=True, **_JIT)
def unsort_rows(a, index, out):
    """``out[index[d]] = a[d]``: undo the slab sort on per-particle results."""
    for d in prange(a.shape[0]):
        for m in range(a.shape[1]):
            out[index[d], m] = a[d, m]
    return out


@njit(**_JIT)
def _read_range(field, pos, out, lo, hi, orig, ih, shape, per, P, ndim, allow_outside, fast, off):
    """Read particles ``lo:hi`` into ``out``; returns their number of bad particles (then
    their rows of ``out`` are not written)."""
    nbad = _count_bad(pos, lo, hi, orig, ih, shape, per, P, ndim, allow_outside)
    if nbad == 0:
        if fast and P == 2:
            read3_cic(field, pos, out, lo, hi, orig, ih, shape, per, off)
        elif fast and P == 3:
            read3_tsc(field, pos, out, lo, hi, orig, ih, shape, per, off)
        else:
            read_block(field, pos, out, lo, hi, orig, ih, shape, per, P, ndim, off)
    return nbad


@njit(parallel=True, **_JIT)
def readout(field, pos, orig, ih, shape, per, P, ndim, allow_outside, chunk, fast, out, nthreads,
            off):
    """Gather the field at every particle into ``out`` (N, C), in parallel chunks; returns
    ``nbad`` (``out`` is unusable if it is not 0). ``off``: as in :func:`paint_serial`."""
    n = pos.shape[0]
    nchunk = (n + chunk - 1) // chunk
    nbad = np.zeros(nchunk, np.int64)
    claims = np.zeros(1, np.int64)
    for _ in prange(nthreads):
        while True:
            j = _claim(claims, 0)
            if j >= nchunk:
                break
            nbad[j] = _read_range(field, pos, out, j * chunk, min(n, (j + 1) * chunk), orig, ih,
                                  shape, per, P, ndim, allow_outside, fast, off)
    return nbad.sum()


@njit(**_JIT)
def readout_serial(field, pos, orig, ih, shape, per, P, ndim, allow_outside, fast, out, off):
    """:func:`readout` on this thread alone (small problems)."""
    return _read_range(field, pos, out, 0, pos.shape[0], orig, ih, shape, per, P, ndim,
                       allow_outside, fast, off)


@njit(**_JIT)
def cell_keys(pos, orig, ih, shape, ndim):
    """Flat index of the cell containing each particle (periodic wrap on every axis)."""
    n = pos.shape[0]
    key = np.empty(n, np.int64)
    for q in range(n):
        flat = 0
        for a in range(ndim):
            i = wrap(math.floor((pos[q, a] - orig[a]) * ih[a]), shape[a])
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


@njit(**_JIT)
def _far(x, o, ih, n, per):
    return per and not (-n <= (x - o) * ih < 2 * n)


@njit(**_JIT)
def home_ranks(pos, orig, ih, shape, per, ndim, plane_rank, rank_of, counts):
    """The rank holding each particle's home plane of a split grid (``plane_rank``: the rank
    of each plane of axis 0) into ``rank_of``, and how many go to each rank into ``counts``.

    The home plane is the particle's NGP cell on axis 0 computed with the kernels' own
    arithmetic (``floor((x - o)/h)`` but for rounding at a cell face), wrapped on a periodic
    axis, clipped to the grid on a bounded one (a particle outside then reaches a rank that
    reports it). Every window's stencil starts within ``order // 2`` planes of it, and ends as
    far above (one more for the interlaced half-cell shift): the ghost planes a slab needs.
    Non-finite positions get -1 (counted in ``counts[-1]``); positions more than a period
    outside the box on some periodic axis -2 (``counts[-2]``): the caller wraps them as the
    deposit would (:func:`fieldsolve.assign._wrap_far`) and asks again."""
    n0 = shape[0]
    for q in range(pos.shape[0]):
        x0 = np.float64(pos[q, 0])
        x1 = np.float64(pos[q, 1]) if ndim > 1 else 0.0
        x2 = np.float64(pos[q, 2]) if ndim > 2 else 0.0
        if not (math.isfinite(x0) and math.isfinite(x1) and math.isfinite(x2)):
            r = -1
        elif (_far(x0, orig[0], ih[0], shape[0], per[0]) or _far(x1, orig[1], ih[1], shape[1], per[1])
              or _far(x2, orig[2], ih[2], shape[2], per[2])):
            r = -2
        else:
            u = (x0 - orig[0]) * ih[0]
            if per[0]:
                c = wrap(window_weights(u - 0.5, 1)[0], n0)
            elif u < 0.0:  # compared as floats: no integer overflow far outside
                c = 0
            elif u >= n0:
                c = n0 - 1
            else:
                c = min(max(window_weights(u - 0.5, 1)[0], 0), n0 - 1)
            r = plane_rank[c]
        rank_of[q] = r
        counts[r] += 1
