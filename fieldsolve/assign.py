"""Particle deposit (paint) and readout (interpolation) with NGP/CIC/TSC/PCS windows.

Grid convention: cell-centred (see :mod:`fieldsolve.grid`). A particle at ``x`` gives cell
``i`` the weight ``prod_a w_p((x_a - c_{i,a}) / h_a)`` with ``c_i`` the cell centre and ``w_p``
the window of order ``p`` (:mod:`fieldsolve.kernels.windows`); the weights of one particle sum to 1.

* Periodic axes wrap exactly: a position anywhere on the real line (any finite float, even
  1e300) acts as its image in the box, found with an exact floating-point modulo (``fmod`` has
  no rounding error), so a particle far away deposits exactly where its image would and no
  mass is lost. NaN and infinite positions are errors.
* On a bounded axis a particle whose stencil leaves the grid is an error, unless
  ``outside="drop"``: then the stencil cells outside the grid are skipped (their share of the
  weight is lost, and :func:`interpolate` reads zero there, so readout stays the adjoint).
* :func:`interpolate` is the exact adjoint (transpose) of :func:`deposit` with
  ``density=False``: ``sum(interpolate(F, x) * w) == sum(F * deposit(x, w, density=False))``.
"""
from __future__ import annotations

import numba
import numpy as np

from . import _assign_jit as K
from . import fft
from ._compat import api
from .grid import Grid
from .kernels.windows import get_window

__all__ = ["deposit", "interpolate", "sort_particles", "check_positions"]

# Below this much work (particles x stencil cells, N p^ndim) deposit paints in input order on
# one thread and readout runs on one thread: a slab sort and waking a second thread cost more
# than they save there (measured crossover on 2 cores: 1-5 ms of work; see docs/particle-mesh.md).
# The deposit path depends on the problem only, never on the thread count, so results stay
# bitwise identical for any thread count.
_PARALLEL_WORK = 2_000_000
_MAX_SLABS = 128  # more slabs only cost sort bookkeeping (4096 1-D cells: 2048 slabs, 5 ms)
_READ_SORT_ABOVE = 32 << 20  # bytes per field component beyond which readout sorts by slab
_OUTSIDE = ("raise", "drop")


def _check_grid(grid):
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a fieldsolve.Grid, got {type(grid).__name__}")


def _positions(grid, positions):
    x = np.asarray(positions)
    if x.ndim == 1 and grid.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != grid.ndim:
        raise ValueError(f"positions must have shape (N, {grid.ndim}) for a {grid.ndim}-D grid, "
                         f"got {np.shape(positions)}")
    if x.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"positions must be real numbers, got dtype {x.dtype}")
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


def _params(grid, window):
    """Kernel arguments: per-axis tuples padded to 3 axes (scalars in registers for the
    kernels, no per-call arrays), window order, ndim."""
    pad = 3 - grid.ndim
    orig = tuple(float(o) for o in grid.origin) + (0.0,) * pad
    ih = tuple(1.0 / h for h in grid.spacing) + (1.0,) * pad
    shape = tuple(int(n) for n in grid.shape) + (1,) * pad
    per = tuple(bool(p) for p in grid.periodic) + (True,) * pad
    return orig, ih, shape, per, int(window.order), grid.ndim


def _wrap_far(grid, x, far):
    """Copy of ``x`` with the rows ``far`` reduced into the box on every periodic axis.

    ``mod(x, L) - mod(o, L)`` never overflows (``x - o`` could) and ``np.mod`` on floats is
    exact, so the image is the true one to within one rounding of the final ``o + r``."""
    x = x.copy()
    rows = x[far]
    for a in range(grid.ndim):
        if grid.periodic[a]:
            o, L = grid.origin[a], grid.box[a]
            r = np.mod(np.mod(rows[:, a], L) - np.mod(o, L), L)
            rows[:, a] = o + r
    x[far] = rows
    return x


def _checked_positions(grid, x, params, outside):
    """Slow path, only after a kernel reported bad particles: raise with the details, or, if
    the only problem is periodic coordinates far outside the box, return ``x`` with those
    reduced into the box (the caller runs the kernel again on it)."""
    status = K.check_positions(x, *params, outside == "drop")
    far = status == K.FAR
    if far.any():
        x = _wrap_far(grid, x, far)
        status = K.check_positions(x, *params, outside == "drop")
    nonfinite = np.flatnonzero(status == 1)
    if nonfinite.size:
        first = int(nonfinite[0])
        raise ValueError(f"{nonfinite.size} particle position(s) are NaN or infinite (first: "
                         f"index {first}, {x[first].tolist()}); nothing was deposited or read")
    parts = []
    for a in range(grid.ndim):
        idx = np.flatnonzero(status == 2 + a)
        if idx.size:
            lo, hi = grid.origin[a], grid.origin[a] + grid.box[a]
            parts.append(f"axis {a}: {idx.size} (first index {idx[0]} at x={float(x[idx[0], a])!r}; "
                         f"box [{lo}, {hi}))")
    if parts:
        raise ValueError("particle stencils leave the bounded grid on " + "; ".join(parts)
                         + ". Keep particles at least half the window support inside, or pass "
                         "outside='drop' to discard the off-grid part of their weight")
    return x


def _weights(weights, n, dtype=np.float64):
    """Weights as (N, C) float64, or (1, C) for a value shared by all particles (step 0)."""
    if weights is None:
        return np.ones((1, 1), dtype), 0
    w = np.asarray(weights)
    if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
        raise ValueError(f"weights must be real numbers, got dtype {w.dtype}")
    if w.ndim == 0:
        w = np.full((1, 1), float(w), dtype)
    elif w.ndim == 1:
        if w.shape[0] != n:
            raise ValueError(f"weights has {w.shape[0]} entries but there are {n} particles")
        w = w.astype(dtype, copy=False)[:, None]
    elif w.ndim == 2:
        if w.shape[0] != n:
            raise ValueError(f"weights has shape {w.shape}; expected ({n},) or ({n}, C)")
        w = w.astype(dtype, copy=False)
    else:
        raise ValueError(f"weights must be a scalar, (N,) or (N, C); got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError(f"{int((~np.isfinite(w)).sum())} weight(s) are NaN or infinite; "
                         "nothing was deposited")
    return np.ascontiguousarray(w), int(w.shape[0] > 1 or n == 1)


def _fast(grid):
    """The hand-unrolled kernels cover 3-D CIC/TSC, periodic or bounded axes, any number of
    components."""
    return grid.ndim == 3


def _slab_layout(n0, order, plane_bytes):
    """Even number of slabs along axis 0, each >= max(p-1, 1) planes and >= 128 bytes of the
    float64 grid (two slabs of one colour on one cache line made 2 threads paint a 1-D grid
    1.7x slower than 1: false sharing); 1 slab if too few planes."""
    width_min = max(order - 1, 1, -(-128 // plane_bytes))
    nslab = min(2 * (n0 // (2 * width_min)), _MAX_SLABS)
    if nslab < 2:
        return 1, n0
    return nslab, n0 // nslab


def _small(n, order, ndim):
    """Too little work for the slab sort or a second thread (see ``_PARALLEL_WORK``)."""
    return n * order**ndim < _PARALLEL_WORK


def _paint(grid, x, w, wstep, params, outside, off=0, out=None):
    """Paint into a new (C, *padded shape) float64 array, or into ``out``: zeros of shape
    (C, planes, *padded shape[1:]) whose plane 0 is cell ``off`` of axis 0 (a slab with its
    ghost planes, :mod:`fieldsolve.parallel.particles`; every stencil must fall inside it)."""
    orig, ih, shape, per, order, ndim = params
    grid3 = np.zeros((w.shape[1],) + shape) if out is None else out
    nslab, width = _slab_layout(grid3.shape[1], order, grid3[:, 0].nbytes)
    allow = outside == "drop"
    if _small(x.shape[0], order, ndim) or nslab == 1:
        if K.paint_serial(grid3, x, w, wstep, *params, _fast(grid), allow, off):
            x = _checked_positions(grid, x, params, outside)
            K.paint_serial(grid3, x, w, wstep, *params, _fast(grid), allow, off)
        return grid3
    xs, ws = np.empty_like(x), np.empty_like(w)

    def sort(x):
        return K.slab_sort(x, w, wstep, *params, allow, width, nslab, np.empty(x.shape[0], np.int32),
                           xs, ws, np.empty(0, np.int64), numba.get_num_threads(), off)

    nbad, starts = sort(x)
    if nbad:
        nbad, starts = sort(_checked_positions(grid, x, params, outside))
    K.paint_slabs(grid3, xs, ws, wstep, starts, *params, _fast(grid), numba.get_num_threads(), off)
    return grid3


@api(renamed={"scheme": "window"})
def deposit(grid, positions, weights=None, window="cic", *, density=True, out=None,
            outside="raise", interlace=False, dtype=None):
    """Deposit particle weights onto ``grid`` with an assignment window.

    Parameters
    ----------
    grid : Grid
    positions : array (N, ndim), float32 or float64, physical units.
    weights : None (unit weights), scalar, (N,) or (N, C) for C components (e.g. momentum).
    window : ``"ngp" | "cic" | "tsc" | "pcs"`` (or order 1-4; the older name ``scheme=`` works).
    density : divide by the cell volume (mass -> density). ``False`` gives the summed weights.
    out : optional array to receive the result (overwritten, not accumulated into).
    outside : ``"raise"`` (default) or ``"drop"``, for stencils leaving a bounded axis.
    interlace : average with a second deposit on a grid shifted by ``h/2`` on every axis,
        phase-corrected in Fourier space (``[d1 + d2 exp(i k.h/2)]/2``, Sefusatti et al. 2016):
        cancels the alias images with odd ``n_1 + ... + n_d``. Nyquist modes (where a
        half-cell shift has no real form) keep the plain deposit. Periodic grids only.
    dtype : output dtype, float64 (default) or float32; accumulation is always float64.

    Returns
    -------
    array ``grid.shape`` for scalar weights, ``(C, *grid.shape)`` for (N, C) weights.
    """
    _check_grid(grid)
    window = get_window(window)
    if outside not in _OUTSIDE:
        raise ValueError(f"outside={outside!r}; allowed: {_OUTSIDE}")
    x = _positions(grid, positions)
    w, wstep = _weights(weights, x.shape[0])
    vector = weights is not None and np.ndim(weights) == 2
    params = _params(grid, window)
    dtype = np.dtype(dtype or (out.dtype if out is not None else np.float64))
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype={dtype} not supported; use float32 or float64")
    target_shape = ((w.shape[1],) if vector else ()) + grid.shape
    if out is not None and (out.shape != target_shape or out.dtype != dtype):
        raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}; expected "
                         f"{target_shape} and {dtype}")

    result = _paint(grid, x, w, wstep, params, outside).reshape((w.shape[1],) + grid.shape)
    if interlace:
        if not grid.all_periodic:
            raise ValueError("interlace=True needs a periodic grid on every axis")
        shift = np.array(grid.spacing, dtype=x.dtype) / 2
        second = _paint(grid, x + shift, w, wstep, params, outside).reshape(result.shape)
        result = _interlace_paint(grid, result, second)
    if density:
        result /= grid.cell_volume
    if not vector:
        result = result[0]
    if out is not None:
        out[...] = result
        return out
    return result.astype(dtype, copy=False)


def _interlace_phase(grid, direction):
    """``exp(direction * i k.h/2)`` on the rfft layout, and the Nyquist mask where it is 0."""
    nyq = grid.nyquist_mask()
    phase = np.exp(0.5j * direction * sum(k * h for k, h in zip(grid.kvectors(), grid.spacing)))
    return np.where(nyq, 0.0, phase), nyq


def _interlace_combine(kgrid, X1, X):
    """``X = [X1 + X exp(i k.h/2)] / 2`` in place, Nyquist modes ``X1``, on the real-FFT
    layout of ``kgrid`` (a grid, or a rank's block of it: ``Decomposition.block``)."""
    phase, nyq = _interlace_phase(kgrid, +1)
    X *= phase
    X += X1 * np.where(nyq, 2.0, 1.0)
    X *= 0.5
    return X


def _interlace_spectra(kgrid, X):
    """The spectra of the two fields the adjoint of :func:`_interlace_combine` reads (``X``
    is overwritten by the second)."""
    phase, nyq = _interlace_phase(kgrid, -1)
    first = X * np.where(nyq, 1.0, 0.5)
    X *= 0.5 * phase
    return first, X


def _interlace_paint(grid, first, second):
    """Combine a deposit and one shifted by ``+h/2``: ``[d1 + d2 exp(i k.h/2)] / 2`` in Fourier
    space, except on Nyquist modes, which keep ``d1`` (a half-cell shift of a Nyquist mode is
    not a real field, so interlacing cannot act there)."""
    axes = tuple(range(1, grid.ndim + 1))
    X = _interlace_combine(grid, fft.rfftn(first, axes=axes), fft.rfftn(second, axes=axes))
    return fft.irfftn(X, grid.shape, axes=axes, overwrite_input=True)


def _interlace_read(grid, field):
    """The two fields the adjoint of :func:`_interlace_paint` reads: ``F (1 + P_N) / 2`` at ``x``
    and ``F exp(-i k.h/2) / 2`` at ``x + h/2`` (``P_N`` the Nyquist modes)."""
    axes = tuple(range(1, grid.ndim + 1))
    first, second = _interlace_spectra(grid, fft.rfftn(field, axes=axes))
    return tuple(fft.irfftn(X, grid.shape, axes=axes, overwrite_input=True) for X in (first, second))


@api(renamed={"scheme": "window"})
def interpolate(grid, field, positions, window="cic", *, outside="raise", interlace=False):
    """Read a mesh field at particle positions with an assignment window (float64 result).

    ``field`` is ``grid.shape`` (returns (N,)) or components-first ``(C, *grid.shape)``
    (returns (N, C)). The exact adjoint of :func:`deposit` with ``density=False`` and the same
    ``interlace``: with ``interlace=True`` the sum of a readout at ``x`` and one at ``x + h/2``
    of the field shifted back by ``h/2`` (Fourier phase), which keeps PM forces momentum
    conserving when the density was interlaced. Periodic grids only.
    """
    if interlace:
        _check_grid(grid)
        if not grid.all_periodic:
            raise ValueError("interlace=True needs a periodic grid on every axis")
        f = np.asarray(field)
        vector = f.ndim == grid.ndim + 1
        first, second = _interlace_read(grid, f if vector else f[None])
        x = _positions(grid, positions)
        shift = np.array(grid.spacing, dtype=x.dtype) / 2
        out = interpolate(grid, first, x, window, outside=outside)
        out += interpolate(grid, second, x + shift, window, outside=outside)
        return out if vector else out[:, 0]
    _check_grid(grid)
    window = get_window(window)
    if outside not in _OUTSIDE:
        raise ValueError(f"outside={outside!r}; allowed: {_OUTSIDE}")
    f = np.asarray(field)
    if f.shape == grid.shape:
        vector = False
        f = f[None]
    elif f.ndim == grid.ndim + 1 and f.shape[1:] == grid.shape:
        vector = True
    else:
        raise ValueError(f"field has shape {f.shape}; expected {grid.shape} or (C, *{grid.shape})")
    if f.dtype not in (np.float32, np.float64):
        if np.iscomplexobj(f) or not np.issubdtype(f.dtype, np.number):
            raise ValueError(f"field must be real (float32/float64), got dtype {f.dtype}")
        f = f.astype(np.float64)
    x = _positions(grid, positions)
    params = _params(grid, window)
    f3 = np.ascontiguousarray(f).reshape((f.shape[0],) + params[2])
    out = _read(grid, f3, x, params, outside)
    return out if vector else out[:, 0]


def _read(grid, f3, x, params, outside, off=0):
    """Readout of ``f3`` (C, planes, *padded shape[1:]), contiguous, whose plane 0 is cell
    ``off`` of axis 0 (the whole grid, or a slab with ghost planes), at ``x``: (N, C)."""
    orig, ih, shape, per, order, ndim = params
    allow = outside == "drop"
    nslab, width = _slab_layout(f3.shape[1], order, 8 * f3[:, 0].size)
    index = None
    fast = _fast(grid) and order in (2, 3)
    prefetched_cic = fast and order == 2
    serial = _small(x.shape[0], order, ndim) or numba.get_num_threads() == 1
    if (not prefetched_cic and not _small(x.shape[0], order, ndim) and nslab > 1
            and f3[0].nbytes > _READ_SORT_ABOVE):
        # Random-order gathers from a grid larger than the caches are latency bound; reading
        # slab by slab keeps each slab's few planes in cache. Results go back in input order.
        # The fast CIC kernel prefetches instead, which matched or beat sorting at 256^3
        # (TSC's 9 rows per particle did not gain from prefetching there: 21 vs 36 Mpart/s).
        xs, index = np.empty_like(x), np.empty(x.shape[0], np.int64)
        ones = np.ones((1, 1))

        def sort(x):
            return K.slab_sort(x, ones, 0, *params, allow, width, nslab,
                               np.empty(x.shape[0], np.int32), xs, ones.copy(), index,
                               numba.get_num_threads(), off)[0]

        if sort(x):
            sort(_checked_positions(grid, x, params, outside))
        x = xs
    # outputs allocated here, not in the kernels: NumPy's large arrays get huge pages, which
    # saves most of the first-touch page-fault cost
    out = np.empty((x.shape[0], f3.shape[0]))

    def read(x):  # readout results do not depend on the path or the thread count
        if serial:
            return K.readout_serial(f3, x, *params, allow, fast, out, off)
        return K.readout(f3, x, *params, allow, 4096, fast, out, numba.get_num_threads(), off)

    if read(x):
        read(_checked_positions(grid, x, params, outside))
    if index is not None:
        out = K.unsort_rows(out, index, np.empty_like(out))
    return out


def check_positions(grid, positions, window="cic", *, outside="raise"):
    """Raise the ``ValueError`` that :func:`deposit` and :func:`interpolate` would raise for
    ``positions`` (NaN or infinite values, stencils leaving a bounded axis), without a grid."""
    _check_grid(grid)
    if outside not in _OUTSIDE:
        raise ValueError(f"outside={outside!r}; allowed: {_OUTSIDE}")
    x = _positions(grid, positions)
    params = _params(grid, get_window(window))
    if K.check_positions(x, *params, outside == "drop").any():
        _checked_positions(grid, x, params, outside)


def sort_particles(grid, positions):
    """Permutation that orders particles by the flat index of their cell.

    ``positions[order]`` (and the matching weights/velocities) deposit and read out several
    times faster than random order because neighbouring particles touch the same cache lines.
    A PM loop can re-sort every few steps. Positions on periodic axes are wrapped first.
    """
    _check_grid(grid)
    x = _positions(grid, positions)
    if not np.isfinite(x).all():
        raise ValueError("positions contain NaN or infinite values")
    params = _params(grid, get_window("ngp"))
    if K.check_positions(x, *params, True).any():
        x = _checked_positions(grid, x, params, "drop")
    orig, ih, shape, _, _, ndim = params
    return K.counting_sort(K.cell_keys(x, orig, ih, shape, ndim), grid.size)
