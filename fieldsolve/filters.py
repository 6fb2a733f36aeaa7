"""Explicit LES filters on periodic grids, applied as Fourier multipliers.

A :class:`Filter` is a filter kernel (:mod:`fieldsolve.kernels.filters`: width conventions --
Pope's ``Delta`` everywhere --, transfer functions and stencils) bound to one grid, with its
transfer function computed once. Physical-space kernels (:func:`filter_kernel`,
``kind="kernel"``) are stored with the origin at array index 0: entry ``i`` is the weight at
the minimum-image offset ``min(i, n - i) h``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field, replace

import numpy as np
from ._compat import api

from . import fft
from .grid import Grid, signed_modes
from .parallel import dfft
from .parallel.collective import agreed
from .parallel.layout import Decomposition, as_decomposition
from .kernels.filters import (FWHM_PER_DELTA, KINDS, SIGMA_PER_DELTA, SPECTRAL_KINDS,
                              _RTOL, _resolve_width, _second_moment_width, _stencils_per_axis,
                              stencil_transfer, stencil_weights, transfer_function,
                              width_from_fwhm, width_from_sigma)

__all__ = [
    "Filter", "make_filter", "filter_field", "transfer_function", "filter_kernel",
    "stencil_weights", "stencil_transfer", "effective_width", "filter_width_ratio",
    "width_from_sigma", "width_from_fwhm", "SIGMA_PER_DELTA", "FWHM_PER_DELTA", "KINDS",
]


# --------------------------------------------------------------------------------------------
# Filter objects
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Filter:
    """A homogeneous filter on one periodic grid: ``fbar^ = G^ f^``.

    Attributes: ``kind``; ``width`` (nominal Pope Delta per axis); ``effective_width`` (second
    moment width ``sqrt(12 int r^2 G)`` per axis, equal to ``width`` except for the quadrature
    stencils, user stencils/kernels and the sharp filter, where it is ``pi / k_c`` by
    definition); ``transfer`` (``G^`` on the rfft layout, read-only, real unless the kernel is
    asymmetric); ``options``; ``decomposition`` (None: the whole grid): a filter made for a
    split :class:`fieldsolve.parallel.Decomposition` holds its transfer function on this
    rank's Fourier block and filters this rank's slabs.
    """

    grid: Grid
    kind: str
    width: tuple
    effective_width: tuple
    transfer: np.ndarray = dc_field(repr=False)
    options: dict = dc_field(default_factory=dict)
    _cast: dict = dc_field(default_factory=dict, repr=False)
    decomposition: Decomposition | None = dc_field(default=None, repr=False)

    @property
    def delta(self) -> float:
        """Scalar width for eddy-viscosity models: Deardorff's geometric mean of the
        ``effective_width`` (``(D_1 D_2 D_3)^(1/3)``)."""
        return float(np.prod(self.effective_width) ** (1.0 / len(self.effective_width)))

    @property
    def positive(self) -> bool:
        """True when the discrete kernel is known to be non-negative (then tau is PSD)."""
        return bool(self.options.get("_positive", False))

    def transfer_as(self, dtype):
        """``transfer`` in the precision of a spectrum of ``dtype`` (cached)."""
        dtype = np.dtype(dtype)
        real = np.float32 if dtype in (np.float32, np.complex64) else np.float64
        want = np.dtype(real) if not np.iscomplexobj(self.transfer) else \
            np.result_type(real, np.complex64)
        arr = self._cast.get(want)
        if arr is None:
            arr = np.ascontiguousarray(self.transfer, dtype=want)
            arr.setflags(write=False)
            self._cast[want] = arr
        return arr

    def apply_hat(self, field_k):
        """Multiply an rfft-layout spectrum (trailing axes ``grid.rfft_shape``) in place."""
        field_k *= self.transfer_as(field_k.dtype)
        return field_k

    def __call__(self, field):
        return self.apply(field)

    def apply(self, field):
        """Filter a real field of shape ``grid.shape`` or ``(..., *grid.shape)`` (e.g.
        components first; with a ``decomposition``: this rank's slab ``(..., *local_shape)``).
        Float32 stays float32, everything else is computed in float64."""
        d = as_decomposition(self.decomposition or self.grid)
        f = agreed(d, _real_field, field, self.grid, d.local_shape)
        X = dfft.rfftn(d, f)
        self.apply_hat(X)
        return dfft.irfftn(d, X, overwrite_input=True)

    def on(self, decomposition) -> "Filter":
        """This filter for ``decomposition`` (a Decomposition, or a Grid: the whole grid): itself
        when it was made for that layout; a filter made for the whole grid gives the rank's block
        of its transfer function. Raises ``ValueError`` for another grid or layout."""
        d = as_decomposition(decomposition)
        if d.grid != self.grid:
            raise ValueError("the Filter was built for a different grid")
        mine = self.decomposition
        if (None if mine is None else mine.k_slices) == (d.k_slices if d.split else None):
            return self
        if mine is not None:
            raise ValueError("the Filter was built for a different decomposition")
        t = np.ascontiguousarray(np.broadcast_to(self.transfer, self.grid.rfft_shape)[d.k_slices])
        t.setflags(write=False)
        return replace(self, transfer=t, _cast={}, decomposition=d)

    def compose(self, other: "Filter") -> "Filter":
        """The filter ``other o self`` (transfer functions multiply). Second moments add, so the
        effective widths combine as ``sqrt(D1^2 + D2^2)`` (sharp: the smaller cutoff)."""
        if other.grid != self.grid:
            raise ValueError("cannot compose filters defined on different grids")
        other = other.on(self.decomposition or self.grid)
        if self.kind == "sharp" and other.kind == "sharp":
            eff = tuple(max(a, b) for a, b in zip(self.effective_width, other.effective_width))
        else:
            eff = tuple(math.hypot(a, b) for a, b in zip(self.effective_width, other.effective_width))
        t = self.transfer * other.transfer
        t.setflags(write=False)
        opts = {"parts": (self.metadata(), other.metadata()),
                "_positive": self.positive and other.positive}
        return Filter(self.grid, "composite", eff, eff, t, opts, decomposition=self.decomposition)

    def metadata(self) -> dict:
        """Plain-data description for output files (``width_convention`` is always "pope")."""
        meta = {"kind": self.kind, "width": list(self.width),
                "effective_width": list(self.effective_width), "width_convention": "pope"}
        for k, v in self.options.items():
            if k.startswith("_"):
                continue
            meta[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return meta


def _real_field(field, grid, shape=None):
    """``field`` as float32/float64, trailing axes ``shape`` (default the grid's; a rank's slab)."""
    f, shape = np.asarray(field), grid.shape if shape is None else shape
    if np.iscomplexobj(f):
        raise ValueError("filters act on real fields; got a complex array")
    if f.ndim < grid.ndim or f.shape[f.ndim - grid.ndim:] != shape:
        raise ValueError(f"field has shape {f.shape}; expected {shape} or "
                         f"(components, *{shape})")
    if f.dtype not in (np.float32, np.float64):
        f = f.astype(np.float64)
    return f


def _check_grid(grid):
    if not isinstance(grid, Grid):
        raise ValueError(f"grid must be a fieldsolve.Grid, got {type(grid).__name__}")
    if not grid.all_periodic:
        raise ValueError("explicit filters are implemented for periodic grids only; "
                         f"grid.periodic = {grid.periodic}")


def make_filter(grid, kind="gaussian", width=None, *, sigma=None, fwhm=None, shape="sphere",
                weights=None, kernel=None) -> Filter:
    """Build a :class:`Filter` (transfer function on ``grid``'s rfft layout).

    ``width``: Pope Delta, physical units, scalar or per axis (or ``sigma=`` / ``fwhm=``).
    ``kind="sharp"`` needs ``Delta >= h`` on every axis (else the cutoff lies beyond Nyquist);
    ``shape="sphere"`` (default) or ``"cube"``. Stencils use ``Delta = f h``; ``trapezoid`` and
    ``simpson`` default to ``2h``. ``kind="stencil"`` takes ``weights`` (one odd-length array
    for every axis, or a tuple with one per axis). ``kind="kernel"`` takes a physical-space
    ``kernel`` of ``grid.shape`` with its origin at index 0; its transfer function is its DFT.

    ``grid`` may be a :class:`fieldsolve.parallel.Decomposition`: the transfer function is then
    computed on this rank's Fourier block only (``kind="kernel"``: the whole kernel, given on
    every rank, is transformed and its block kept) and the filter acts on this rank's slabs.
    """
    dec = as_decomposition(grid)
    grid = dec.grid
    _check_grid(grid)
    if kind not in KINDS:
        raise ValueError(f"unknown filter kind {kind!r}; choose from {KINDS}")
    d, hs = grid.ndim, grid.spacing
    if kind == "kernel":
        if width is not None or sigma is not None or fwhm is not None:
            raise ValueError("kind='kernel' takes its width from the kernel; do not pass width")
        return _kernel_filter(grid, kernel).on(dec)
    if kernel is not None:
        raise ValueError("kernel= is only for kind='kernel'")
    delta = _resolve_width(kind, width, sigma, fwhm, d)
    kv = dec.block.kvectors(rfft=True)
    opts = {}
    if kind in SPECTRAL_KINDS:
        if delta is None:
            raise ValueError(f"{kind!r} filter needs a width (Pope Delta), sigma or fwhm")
        if kind == "sharp":
            small = [a for a in range(d) if delta[a] < hs[a] * (1 - _RTOL)]
            if small:
                raise ValueError(f"sharp filter width {delta} is below the grid spacing {hs} on "
                                 f"axes {small}: the cutoff pi/Delta would lie beyond Nyquist")
            opts["shape"] = shape
        elif shape != "sphere":
            raise ValueError("shape= applies to the sharp filter only")
        t = transfer_function(kind, kv, delta, shape=shape)
        eff = delta
        opts["_positive"] = kind == "gaussian" and _gaussian_kernel_positive(grid, delta)
    else:
        if shape != "sphere":
            raise ValueError("shape= applies to the sharp filter only")
        ws = _stencils_per_axis(kind, delta, hs, weights)
        for w, n in zip(ws, grid.shape):
            if w.size > n:
                raise ValueError(f"stencil of {w.size} points does not fit an axis of {n} cells")
        t = 1.0
        for c, w, hh in zip(kv, ws, hs):
            t = t * stencil_transfer(w, c, hh)
        eff = tuple(_second_moment_width(w, hh) for w, hh in zip(ws, hs))
        if delta is None:
            delta = eff if kind == "stencil" else tuple(2.0 * hh for hh in hs)
        opts["weights"] = [w.tolist() for w in ws]
        opts["_positive"] = all(bool(np.all(w >= 0)) for w in ws)
    t = np.ascontiguousarray(np.broadcast_to(t, dec.block.rfft_shape))
    t.setflags(write=False)
    return Filter(grid, kind, tuple(delta), tuple(eff), t, opts,
                  decomposition=dec if dec.split else None)


def _gaussian_kernel_positive(grid, delta):
    """Whether the discrete kernel of the spectral Gaussian is >= 0: truncation at Nyquist makes
    it ring (slightly negative far away) unless ``G^(pi/h)`` is negligible."""
    return all(math.exp(-(math.pi * d / h) ** 2 / 24.0) < 1e-11 for d, h in zip(delta, grid.spacing))


def _kernel_filter(grid, kernel):
    if kernel is None:
        raise ValueError("kind='kernel' needs kernel= (an array of grid.shape, origin at index 0)")
    g = np.asarray(kernel, dtype=np.float64)
    if g.shape != grid.shape or not np.isfinite(g).all():
        raise ValueError(f"kernel must be a finite array of shape {grid.shape}")
    s = g.sum()
    if abs(s - 1.0) > 1e-10:
        raise ValueError(f"kernel sums to {s:.16g}, not 1: a filter must keep constants")
    t = fft.rfftn(g)
    if np.abs(t.imag).max() <= 64 * np.finfo(float).eps * np.abs(g).sum():
        t = np.ascontiguousarray(t.real)  # symmetric kernel: real G^ (imaginary part is round-off)
    t.setflags(write=False)
    eff = []
    for a, (n, h) in enumerate(zip(grid.shape, grid.spacing)):
        r = np.abs(signed_modes(n)) * h  # minimum-image offset of entry i
        marg = g.sum(axis=tuple(b for b in range(grid.ndim) if b != a))
        eff.append(math.sqrt(max(12.0 * float(np.sum(marg * r * r)), 0.0)))
    return Filter(grid, "kernel", tuple(eff), tuple(eff), t, {"_positive": bool(np.all(g >= 0))})


@api(grid_first=True)
def filter_field(grid, field, kind="gaussian", width=None, **options):
    """Filter a periodic field: ``fbar = IFFT(G^ FFT(f))``.

    ``field``: ``grid.shape`` or components first ``(C, *grid.shape)``. ``kind``/``width``/
    ``options`` as in :func:`make_filter` (``width`` in physical units, Pope's Delta; or
    ``sigma=``, ``fwhm=``). A prepared :class:`Filter` may be passed as ``kind``.
    Returns an array of the same shape (float32 in, float32 out; otherwise float64).
    With a :class:`fieldsolve.parallel.Decomposition` for ``grid``: this rank's slab in and out.
    """
    filt = kind if isinstance(kind, Filter) else make_filter(grid, kind, width, **options)
    if isinstance(kind, Filter) and (width is not None or options):
        raise ValueError("pass width/options either to make_filter or here, not with a Filter")
    return filt.on(grid).apply(field)


def filter_kernel(grid, kind="gaussian", width=None, *, sampled=False, **options):
    """Physical-space kernel on ``grid`` with its origin at index 0 (sums to 1).

    Default: the exact discrete kernel applied by :func:`filter_field` (inverse DFT of its
    transfer function). ``sampled=True`` (Gaussian only): the continuous kernel
    ``exp(-6 r^2 / Delta^2)`` evaluated at the minimum-image distances ``min(i, n-i) h`` and
    normalised to sum 1; its own discrete transfer function differs from
    ``exp(-k^2 Delta^2/24)`` by about ``exp(-pi^2 (Delta/h)^2 / 24)`` (aliasing).
    """
    _check_grid(grid)  # a whole grid (not a decomposition)
    if sampled:
        if kind != "gaussian":
            raise ValueError("sampled=True is implemented for the Gaussian kernel only")
        delta = _resolve_width(kind, width, options.pop("sigma", None), options.pop("fwhm", None),
                               grid.ndim)
        if delta is None or options:
            raise ValueError("sampled Gaussian kernel needs width (or sigma/fwhm) and no other options")
        g = 1.0
        for a, (n, h, d) in enumerate(zip(grid.shape, grid.spacing, delta)):
            r = np.abs(signed_modes(n)) * h  # minimum-image distance: origin at index 0
            view = [1] * grid.ndim
            view[a] = n
            g = g * np.exp(-6.0 * r * r / (d * d)).reshape(view)
        g = np.broadcast_to(g, grid.shape)
        return g / g.sum()
    filt = make_filter(grid, kind, width, **options)
    t = filt.transfer
    return fft.irfftn(np.asarray(t, dtype=np.complex128), grid.shape)


def effective_width(filt_or_kind, grid=None, width=None, **options):
    """Second-moment (Pope) width per axis of a filter or a kind/width on ``grid``."""
    if isinstance(filt_or_kind, Filter):
        return filt_or_kind.effective_width
    return make_filter(grid, filt_or_kind, width, **options).effective_width


def filter_width_ratio(grid_filter: Filter, test_filter: Filter) -> float:
    """Default ``alpha = Delta_hat / Delta_bar`` for the dynamic procedure, where ``Delta_hat`` is
    the width of the *combined* filter (test o grid).

    Two sharp filters: ``alpha = max(D_t, D_bar)/D_bar`` (``k_c`` ratio). Otherwise second moments
    add: ``alpha = sqrt(1 + (D_t/D_bar)^2)`` with Deardorff-averaged effective widths (Gaussian
    test filter of width 2 Delta_bar: ``alpha = sqrt(5)``). Mixing sharp and non-sharp filters has
    no second-moment rule: pass ``alpha`` explicitly.
    """
    sharp = (grid_filter.kind == "sharp", test_filter.kind == "sharp")
    db, dt = grid_filter.delta, test_filter.delta
    if all(sharp):
        return max(dt, db) / db
    if any(sharp):
        raise ValueError("alpha between a sharp and a non-sharp filter is convention-dependent; "
                         "pass alpha explicitly")
    return math.sqrt(1.0 + (dt / db) ** 2)
