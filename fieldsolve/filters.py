"""Explicit LES filters on periodic grids, applied as Fourier multipliers.

Width convention: **Pope's Delta** everywhere (Pope 2000, sec. 13.2). A filter of width
``Delta`` has second moment ``int r^2 G(r) dr = Delta^2 / 12`` per axis, so box and Gaussian
filters of equal ``Delta`` agree to second order, ``G^(k) = 1 - k^2 Delta^2 / 24 + ...``.
Other conventions are converted explicitly: ``sigma = Delta / sqrt(12)`` (the standard deviation
of the kernel, scipy.ndimage's argument) and, for the Gaussian only,
``FWHM = 2 sqrt(2 ln 2) sigma = 0.67978 Delta``. Widths are physical lengths (same units as
``grid.box``), a scalar or one per axis.

Transfer functions (``k`` angular, per axis ``k_a``; ``h_a`` the grid spacing):

================  ================================================================
``gaussian``      ``exp(-sum_a k_a^2 Delta_a^2 / 24)``
``box``           ``prod_a sin(k_a Delta_a / 2) / (k_a Delta_a / 2)`` (continuous top hat)
``sharp``         ``1`` if ``sum_a (k_a Delta_a / pi)^2 < 1`` (``shape="sphere"``) or
                  ``max_a |k_a| Delta_a / pi < 1`` (``shape="cube"``), else ``0``;
                  cutoff ``k_c = pi / Delta``
stencils          ``prod_a sum_m w_m exp(-i k_a m h_a)``: the *discrete* transfer function of
                  the weights ``w_m`` at offsets ``m h_a`` (real for symmetric weights)
================  ================================================================

Stencils: ``trapezoid`` and ``simpson`` are the composite quadrature rules of a top hat of
width ``Delta = f h`` (``f`` even; ``f = 2`` gives (1/4, 1/2, 1/4) and (1/6, 2/3, 1/6));
``sg3``, ``sg5_box`` and ``sg5_gaussian`` are the Sagaut & Grohens (1999) 3- and 5-point
Taylor approximations of width ``Delta = f h`` (any real ``f``, second moment exact);
``stencil`` takes user weights. A stencil's second-moment width
``Delta_eff^2 = 12 sum_m w_m (m h)^2`` (reported as :attr:`Filter.effective_width`) differs
from the nominal width for the quadrature rules (trapezoid of width ``2h``: ``sqrt(6) h``).

Physical-space kernels (:func:`filter_kernel`, ``kind="kernel"``) are stored with the origin at
array index 0: entry ``i`` is the weight at the minimum-image offset ``min(i, n - i) h``.
A kernel centred in the array would shift the output by half a box.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field as dc_field

import numpy as np

from . import fft
from .grid import Grid

__all__ = [
    "Filter", "make_filter", "filter_field", "transfer_function", "filter_kernel",
    "stencil_weights", "stencil_transfer", "effective_width", "filter_width_ratio",
    "width_from_sigma", "width_from_fwhm", "SIGMA_PER_DELTA", "FWHM_PER_DELTA", "KINDS",
]

SIGMA_PER_DELTA = 1.0 / math.sqrt(12.0)  #: sigma / Delta (second-moment width)
FWHM_PER_DELTA = 2.0 * math.sqrt(2.0 * math.log(2.0)) / math.sqrt(12.0)  #: Gaussian FWHM / Delta

SPECTRAL_KINDS = ("sharp", "gaussian", "box")
STENCIL_KINDS = ("trapezoid", "simpson", "sg3", "sg5_box", "sg5_gaussian", "stencil")
KINDS = SPECTRAL_KINDS + STENCIL_KINDS + ("kernel",)
# Kinds whose nominal width is the second-moment (Pope) width, so sigma = Delta/sqrt(12) applies.
_SIGMA_KINDS = ("gaussian", "box", "sg3", "sg5_box", "sg5_gaussian")
# Relative tolerance on "f is an even integer" and on the sharp cutoff boundary: widths are
# often built as L/(2m), which lands within a few ulp of the boundary mode.
_RTOL = 1e-9


def width_from_sigma(sigma):
    """Pope ``Delta = sqrt(12) sigma``."""
    return np.asarray(sigma, dtype=np.float64) / SIGMA_PER_DELTA


def width_from_fwhm(fwhm):
    """Pope ``Delta`` of the Gaussian with full width at half maximum ``fwhm`` (``fwhm / 0.67978``)."""
    return np.asarray(fwhm, dtype=np.float64) / FWHM_PER_DELTA


# --------------------------------------------------------------------------------------------
# 1-D stencils
# --------------------------------------------------------------------------------------------
def _even_int(f, kind):
    m = round(f)
    if m < 2 or m % 2 or abs(f - m) > _RTOL * max(1.0, f):
        raise ValueError(f"{kind} filter needs width = f*h with f an even integer >= 2; got f = {f:.6g}")
    return m


def stencil_weights(kind, f=2.0):
    """Symmetric 1-D weights (centre at the middle entry) of a named stencil of width ``f h``.

    ``trapezoid``/``simpson``: composite rule over ``f`` intervals (``f`` even);
    ``sg3``: ``(f^2/24, 1 - f^2/12, f^2/24)``; ``sg5_box``:
    ``w_2 = (3f^4 - 20f^2)/5760, w_1 = (80f^2 - 3f^4)/1440, w_0 = (3f^4 - 100f^2 + 960)/960``;
    ``sg5_gaussian``: ``w_2 = (f^4 - 4f^2)/1152, w_1 = (16f^2 - f^4)/288,
    w_0 = (f^4 - 20f^2 + 192)/192`` (Sagaut & Grohens 1999, eqs. 26, 27, 29).
    """
    f = float(f)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"stencil width ratio f = width/h must be finite and > 0; got {f}")
    if kind == "trapezoid":
        m = _even_int(f, kind)
        w = np.full(m + 1, 1.0 / m)
        w[0] = w[-1] = 0.5 / m
        return w
    if kind == "simpson":
        m = _even_int(f, kind)
        w = np.where(np.arange(m + 1) % 2 == 1, 4.0, 2.0)
        w[0] = w[-1] = 1.0
        return w / (3.0 * m)
    f2, f4 = f * f, f ** 4
    if kind == "sg3":
        return np.array([f2 / 24, 1 - f2 / 12, f2 / 24])
    if kind == "sg5_box":
        w2, w1, w0 = (3 * f4 - 20 * f2) / 5760, (80 * f2 - 3 * f4) / 1440, (3 * f4 - 100 * f2 + 960) / 960
        return np.array([w2, w1, w0, w1, w2])
    if kind == "sg5_gaussian":
        w2, w1, w0 = (f4 - 4 * f2) / 1152, (16 * f2 - f4) / 288, (f4 - 20 * f2 + 192) / 192
        return np.array([w2, w1, w0, w1, w2])
    raise ValueError(f"unknown stencil {kind!r}; named stencils: trapezoid, simpson, sg3, "
                     "sg5_box, sg5_gaussian")


def _check_weights(w):
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.size % 2 == 0 or not np.isfinite(w).all():
        raise ValueError("stencil weights must be a finite 1-D array of odd length (centre in the middle)")
    if abs(w.sum() - 1.0) > 1e-10:
        raise ValueError(f"stencil weights sum to {w.sum():.16g}, not 1: a filter must keep constants")
    return w


def stencil_transfer(weights, k, h):
    """Discrete transfer ``sum_m w_m exp(-i k m h)``, offsets ``m = -M..M`` (centre entry ``m = 0``).

    Real (``w_0 + 2 sum_{m>0} w_m cos(m k h)``) when the weights are symmetric."""
    w = np.asarray(weights, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    M = w.size // 2
    if np.array_equal(w, w[::-1]):
        out = np.full(k.shape, w[M])
        for m in range(1, M + 1):
            out = out + 2.0 * w[M + m] * np.cos(m * k * h)
        return out
    out = np.zeros(k.shape, dtype=np.complex128)
    for m in range(-M, M + 1):
        out = out + w[M + m] * np.exp(-1j * m * k * h)
    return out


def _second_moment_width(w, h):
    m = np.arange(w.size) - w.size // 2
    mom = float(np.sum(w * (m * h) ** 2))
    return math.sqrt(12.0 * mom) if mom > 0 else 0.0


# --------------------------------------------------------------------------------------------
# transfer functions of the continuous filters
# --------------------------------------------------------------------------------------------
def _components(k):
    if isinstance(k, (tuple, list)):
        return [np.asarray(c, dtype=np.float64) for c in k]
    return [np.asarray(k, dtype=np.float64)]


def _resolve_width(kind, width, sigma, fwhm, n):
    given = [x is not None for x in (width, sigma, fwhm)]
    if sum(given) > 1:
        raise ValueError("give only one of width (Pope Delta), sigma or fwhm")
    if sigma is not None:
        if kind not in _SIGMA_KINDS:
            raise ValueError(f"sigma is defined through the second moment; not available for {kind!r}")
        width = width_from_sigma(sigma)
    if fwhm is not None:
        if kind != "gaussian":
            raise ValueError("fwhm is a Gaussian width convention; use width or sigma for "
                             f"{kind!r}")
        width = width_from_fwhm(fwhm)
    if width is None:
        return None
    w = np.asarray(width, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(f"width has {w.size} entries but there are {n} axes")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"filter width must be finite and > 0 on every axis; got {tuple(w)}")
    return tuple(float(x) for x in w)


def transfer_function(kind, k, width=None, *, h=None, shape="sphere", weights=None,
                      sigma=None, fwhm=None):
    """Transfer function ``G^(k)`` of a filter, for plots and tests.

    ``k`` is an array of (angular) wavenumbers for a 1-D profile, or a tuple of per-axis arrays
    (e.g. ``grid.kvectors()``) for a multi-D filter. ``width`` is Pope's ``Delta`` (scalar or
    per axis); ``sigma`` or ``fwhm`` may be given instead. Stencils need the spacing ``h``
    (scalar or per axis); their width is ``f h``. See the module docstring for the formulas.
    """
    comps = _components(k)
    n = len(comps)
    if kind not in SPECTRAL_KINDS + STENCIL_KINDS:
        raise ValueError(f"unknown filter kind {kind!r}; choose from {SPECTRAL_KINDS + STENCIL_KINDS}")
    delta = _resolve_width(kind, width, sigma, fwhm, n)
    if kind in SPECTRAL_KINDS:
        if delta is None:
            raise ValueError(f"{kind!r} filter needs a width")
        if kind == "gaussian":
            return np.exp(-sum(c * c * d * d for c, d in zip(comps, delta)) / 24.0)
        if kind == "box":
            out = 1.0
            for c, d in zip(comps, delta):
                out = out * np.sinc(c * d / (2 * np.pi))  # np.sinc(x) = sin(pi x)/(pi x)
            return np.asarray(out, dtype=np.float64)
        if shape == "sphere":
            q = np.sqrt(sum((c * d / np.pi) ** 2 for c, d in zip(comps, delta)))
        elif shape == "cube":
            q = functools.reduce(np.maximum, [np.abs(c) * d / np.pi for c, d in zip(comps, delta)])
        else:
            raise ValueError(f"sharp filter shape={shape!r}; choose 'sphere' or 'cube'")
        # |k| < k_c strictly; modes on the boundary (to round-off) are removed.
        return (q < 1.0 - _RTOL).astype(np.float64)
    # stencils
    if h is None:
        raise ValueError("stencil transfer functions need the grid spacing h")
    hs = np.broadcast_to(np.asarray(h, dtype=np.float64), (n,))
    ws = _stencils_per_axis(kind, delta, hs, weights)
    out = 1.0
    for c, w, hh in zip(comps, ws, hs):
        out = out * stencil_transfer(w, c, hh)
    return np.asarray(out)


def _stencils_per_axis(kind, delta, hs, weights):
    n = len(hs)
    if kind == "stencil":
        if weights is None:
            raise ValueError("kind='stencil' needs weights=")
        if delta is not None:
            raise ValueError("kind='stencil' takes its width from the weights; do not pass width")
        if isinstance(weights, (tuple, list)) and len(weights) and np.ndim(weights[0]) == 1:
            if len(weights) != n:
                raise ValueError(f"{len(weights)} per-axis weight arrays for {n} axes")
            return [_check_weights(w) for w in weights]
        return [_check_weights(weights)] * n
    if weights is not None:
        raise ValueError(f"weights= is only for kind='stencil', not {kind!r}")
    if delta is None:
        if kind not in ("trapezoid", "simpson"):
            raise ValueError(f"{kind!r} filter needs a width (Delta = f*h)")
        delta = tuple(2.0 * hh for hh in hs)  # the classic 3-point rules: width 2h
    return [stencil_weights(kind, d / hh) for d, hh in zip(delta, hs)]


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
    asymmetric); ``options``.
    """

    grid: Grid
    kind: str
    width: tuple
    effective_width: tuple
    transfer: np.ndarray = dc_field(repr=False)
    options: dict = dc_field(default_factory=dict)
    _cast: dict = dc_field(default_factory=dict, repr=False)

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
        components first). Float32 stays float32, everything else is computed in float64."""
        f = _real_field(field, self.grid)
        axes = tuple(range(f.ndim - self.grid.ndim, f.ndim))
        X = fft.rfftn(f, axes=axes)
        self.apply_hat(X)
        return fft.irfftn(X, self.grid.shape, axes=axes, overwrite_input=True)

    def compose(self, other: "Filter") -> "Filter":
        """The filter ``other o self`` (transfer functions multiply). Second moments add, so the
        effective widths combine as ``sqrt(D1^2 + D2^2)`` (sharp: the smaller cutoff)."""
        if other.grid != self.grid:
            raise ValueError("cannot compose filters defined on different grids")
        if self.kind == "sharp" and other.kind == "sharp":
            eff = tuple(max(a, b) for a, b in zip(self.effective_width, other.effective_width))
        else:
            eff = tuple(math.hypot(a, b) for a, b in zip(self.effective_width, other.effective_width))
        t = self.transfer * other.transfer
        t.setflags(write=False)
        opts = {"parts": (self.metadata(), other.metadata()),
                "_positive": self.positive and other.positive}
        return Filter(self.grid, "composite", eff, eff, t, opts)

    def metadata(self) -> dict:
        """Plain-data description for output files (``width_convention`` is always "pope")."""
        meta = {"kind": self.kind, "width": list(self.width),
                "effective_width": list(self.effective_width), "width_convention": "pope"}
        for k, v in self.options.items():
            if k.startswith("_"):
                continue
            meta[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return meta


def _real_field(field, grid):
    f = np.asarray(field)
    if np.iscomplexobj(f):
        raise ValueError("filters act on real fields; got a complex array")
    if f.ndim < grid.ndim or f.shape[f.ndim - grid.ndim:] != grid.shape:
        raise ValueError(f"field has shape {f.shape}; expected {grid.shape} or "
                         f"(components, *{grid.shape})")
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
    """
    _check_grid(grid)
    if kind not in KINDS:
        raise ValueError(f"unknown filter kind {kind!r}; choose from {KINDS}")
    d, hs = grid.ndim, grid.spacing
    if kind == "kernel":
        if width is not None or sigma is not None or fwhm is not None:
            raise ValueError("kind='kernel' takes its width from the kernel; do not pass width")
        return _kernel_filter(grid, kernel)
    if kernel is not None:
        raise ValueError("kernel= is only for kind='kernel'")
    delta = _resolve_width(kind, width, sigma, fwhm, d)
    kv = grid.kvectors(rfft=True)
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
    t = np.ascontiguousarray(np.broadcast_to(t, grid.rfft_shape))
    t.setflags(write=False)
    return Filter(grid, kind, tuple(delta), tuple(eff), t, opts)


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
        r = np.minimum(np.arange(n), n - np.arange(n)) * h
        marg = g.sum(axis=tuple(b for b in range(grid.ndim) if b != a))
        eff.append(math.sqrt(max(12.0 * float(np.sum(marg * r * r)), 0.0)))
    return Filter(grid, "kernel", tuple(eff), tuple(eff), t, {"_positive": bool(np.all(g >= 0))})


def filter_field(field, grid, kind="gaussian", width=None, **options):
    """Filter a periodic field: ``fbar = IFFT(G^ FFT(f))``.

    ``field``: ``grid.shape`` or components first ``(C, *grid.shape)``. ``kind``/``width``/
    ``options`` as in :func:`make_filter` (``width`` in physical units, Pope's Delta; or
    ``sigma=``, ``fwhm=``). A prepared :class:`Filter` may be passed as ``kind``.
    Returns an array of the same shape (float32 in, float32 out; otherwise float64).
    """
    filt = kind if isinstance(kind, Filter) else make_filter(grid, kind, width, **options)
    if isinstance(kind, Filter) and (width is not None or options):
        raise ValueError("pass width/options either to make_filter or here, not with a Filter")
    if filt.grid != grid:
        raise ValueError("the Filter was built for a different grid")
    return filt.apply(field)


def filter_kernel(grid, kind="gaussian", width=None, *, sampled=False, **options):
    """Physical-space kernel on ``grid`` with its origin at index 0 (sums to 1).

    Default: the exact discrete kernel applied by :func:`filter_field` (inverse DFT of its
    transfer function). ``sampled=True`` (Gaussian only): the continuous kernel
    ``exp(-6 r^2 / Delta^2)`` evaluated at the minimum-image distances ``min(i, n-i) h`` and
    normalised to sum 1; its own discrete transfer function differs from
    ``exp(-k^2 Delta^2/24)`` by about ``exp(-pi^2 (Delta/h)^2 / 24)`` (aliasing).
    """
    if sampled:
        _check_grid(grid)
        if kind != "gaussian":
            raise ValueError("sampled=True is implemented for the Gaussian kernel only")
        delta = _resolve_width(kind, width, options.pop("sigma", None), options.pop("fwhm", None),
                               grid.ndim)
        if delta is None or options:
            raise ValueError("sampled Gaussian kernel needs width (or sigma/fwhm) and no other options")
        g = 1.0
        for a, (n, h, d) in enumerate(zip(grid.shape, grid.spacing, delta)):
            i = np.arange(n)
            r = np.minimum(i, n - i) * h  # minimum-image distance: origin at index 0
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
