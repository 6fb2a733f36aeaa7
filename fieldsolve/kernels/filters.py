"""LES filter kernels (family ``"filter"``): width conventions, transfer functions and the
discrete stencils. The grid-bound :class:`fieldsolve.Filter` objects are built on them.

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

import numpy as np

from .base import Kernel, register

__all__ = ["FilterKernel", "transfer_function", "stencil_weights", "stencil_transfer",
           "width_from_sigma", "width_from_fwhm", "SIGMA_PER_DELTA", "FWHM_PER_DELTA", "KINDS",
           "SPECTRAL_KINDS", "STENCIL_KINDS"]

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



class FilterKernel(Kernel):
    """An LES filter as a kernel: ``kind`` with its width (Pope ``Delta``, or ``sigma=`` /
    ``fwhm=``) and options; ``transfer(grid)`` is :func:`transfer_function` on the grid's
    wavenumbers and spacing. ``order`` is the order of the commutation error, 2 (every filter
    here is even with a finite second moment), infinite for the sharp filter."""

    family = "filter"
    option_names = ("width", "sigma", "fwhm", "shape", "weights")

    def __init__(self, kind, **options):
        super().__init__(**options)
        if kind not in SPECTRAL_KINDS + STENCIL_KINDS:
            raise ValueError(f"unknown filter kind {kind!r}; choose from {SPECTRAL_KINDS + STENCIL_KINDS}")
        self.name = kind
        self.order = math.inf if kind == "sharp" else 2

    def transfer(self, grid, rfft=True):
        o = dict(self.options)
        return transfer_function(self.name, grid.kvectors(rfft=rfft), o.pop("width", None),
                                 h=grid.spacing, **o)


# the registry holds the filters named by kind and width; "stencil" (user weights) and "kernel"
# (a user array, fieldsolve.make_filter) are user-supplied
for _kind in SPECTRAL_KINDS + STENCIL_KINDS[:-1]:
    register("filter", _kind, (lambda kind: lambda **o: FilterKernel(kind, **o))(_kind))
