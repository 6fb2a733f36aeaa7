"""Free-space (isolated) Green's functions (family ``"free"``) as lag arrays on the octant,
the padding rule that puts their origin at index 0, and their transfer functions on the padded
grid. Conventions: :mod:`.green`.

The singular value ``K[0]`` decides the order of the point-sampled kernel: the
Epstein-zeta ("zeta") value cancels the leading ``h^{d-p}`` error term of the punctured
trapezoidal rule (Marin, Runborg & Tornberg 2014), which turns the 2nd-order Hockney kernel into a
4th-order one (3rd order for thin discs) at zero cost. See ``docs/poisson.md``.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft
import scipy.special as sp

from .. import fft
from .._threads import get_num_threads
from ..grid import signed_modes
from ._octant import cell_integral, octant_transfer, radial_octant, radial_rows
from .base import names, register
from .green import (INF, ZETA2_HALF, ZETA2_PRIME0, ZETA3, GreenKernel, _isotropic, _lag_radius,
                    green_function, long_range_green_function)

__all__ = ["FreeKernel", "PointKernel", "IGFKernel", "HejlesenKernel", "Hej0Kernel", "VGFKernel",
           "lag_indices", "pad_kernel", "padded_transfer", "octant_transfer"]


def lag_indices(n_padded):
    """Signed lag of every index of a padded axis (:func:`fieldsolve.grid.signed_modes`): ``j``
    for ``j < P/2``, ``j - P`` above. That is the wrap rule for both ``P = 2N`` (the lag ``-N``
    entry is never used by an ``N``-point source) and the minimal ``P = 2N - 1``, where the
    wrap must be ``j - (2N - 1)`` for ``j >= N`` (pitfall: reusing the ``2N`` formula there
    costs 6e-2 in relL2).
    """
    return signed_modes(n_padded)


def pad_kernel(octant, padded_shape, free_axes=None):
    """Mirror an octant lag array ``K[m], m_a = 0..n_a`` onto the padded grid.

    The origin sits at index 0 and negative lags are wrapped (``K_P[j] = K[|lag(j)|]``) --
    a kernel centred at index ``N`` instead (fftshift layout) gives O(1) errors. ``free_axes``
    (default all) lists the axes to mirror; other axes are copied unchanged.
    """
    octant = np.asarray(octant)
    nd = octant.ndim
    free_axes = range(nd) if free_axes is None else free_axes
    idx = []
    for a in range(nd):
        if a in free_axes:
            lag = np.abs(lag_indices(padded_shape[a]))
            if lag.max() >= octant.shape[a]:
                raise ValueError(f"octant has {octant.shape[a]} lags on axis {a}, padding "
                                 f"{padded_shape[a]} needs {lag.max() + 1}")
            idx.append(lag)
        else:
            idx.append(np.arange(octant.shape[a]))
    return octant[np.ix_(*idx)]


def padded_transfer(padded, free_axes=None, imag_tol=1e-9):
    """Real spectrum (rfft layout) of a padded even kernel; checks ``|Im| <= tol |Re|``.

    The kernel is even on every mirrored axis, so its transform is real (measured
    ``max|Im| / max|Re| ~ 1e-17``): only the real part is stored. ``free_axes`` limits the
    transform to those axes (mixed boundaries: periodic axes already hold per-mode kernels).
    """
    padded = np.asarray(padded, dtype=np.float64)
    nd = padded.ndim
    free_axes = tuple(range(nd)) if free_axes is None else tuple(free_axes)
    if nd - 1 in free_axes:
        spec = fft.rfftn(padded, axes=free_axes)
    else:
        spec = fft.fftn(padded, axes=free_axes)
    scale = np.abs(spec.real).max()
    if np.abs(spec.imag).max() > imag_tol * max(scale, 1e-300):
        raise ValueError("kernel spectrum is not real: the lag array is not even "
                         "(origin not at index 0 or wrong wrap)")
    return np.ascontiguousarray(spec.real)


class FreeKernel(GreenKernel):
    """A free-space kernel given by its octant lag array ``K[m]`` (cell volume included)."""

    kind = "free"

    def check(self, grid, geometry="volume"):
        super().check(grid, geometry)
        if grid.all_periodic:
            raise ValueError(f"kernel {self.name!r} is a free-space kernel but every axis of the "
                             f"grid is periodic; periodic kernels: {list(names('periodic'))}")
        free = [a for a in range(grid.ndim) if not grid.periodic[a]]
        if len(free) < grid.ndim:
            if not self.mixed:
                raise ValueError(f"kernel {self.name!r} does not support mixed periodic/free "
                                 "boundaries; use 'zeta' (4th order) or 'chat2'")
            if geometry != "volume":
                raise ValueError(f"geometry={geometry!r} needs every axis free")
        if geometry == "thin_disc" and grid.ndim != 2:
            raise ValueError("geometry='thin_disc' needs a 2D grid (the plane of the disc)")
        if not self.anisotropic:
            _isotropic([grid.spacing[a] for a in free], self.name)

    def green(self, r, ndim, geometry="volume"):
        """The continuous (possibly regularised) Green's function this kernel samples."""
        return green_function(r, ndim, geometry)

    def octant(self, spacing, counts, geometry="volume"):  # pragma: no cover - abstract
        """Lag array ``K[m]`` for ``m_a = 0..counts_a`` (float64)."""
        raise NotImplementedError

    def padded_shape(self, grid, padding="2n"):
        """``2N`` (or ``2N - 1``) cells on every free axis of ``grid``, ``N`` on periodic ones."""
        extra = 0 if padding == "2n" else 1
        return tuple(n if p else 2 * n - extra for n, p in zip(grid.shape, grid.periodic))

    def array(self, grid, padded_shape=None, geometry="volume"):
        """The kernel on the padded grid (default ``2N`` per axis, every axis free), origin at
        index 0, negative lags wrapped (:func:`pad_kernel`)."""
        padded_shape = padded_shape or self.padded_shape(grid)
        return pad_kernel(self.octant(grid.spacing, grid.shape, geometry), padded_shape)

    def transfer(self, grid, padded_shape=None, geometry="volume", half=False):
        """Real rfft-layout transform of :meth:`array` (the transfer function on the padded
        grid): a DCT-I of the octant for ``2N`` padding (:func:`octant_transfer`), the FFT of
        the padded array otherwise. ``half=True``: only its even half,
        :func:`fieldsolve.fft.mirrored_shape` (what :class:`fieldsolve.PoissonSolver` keeps)."""
        padded_shape = tuple(padded_shape or self.padded_shape(grid))
        octant = self.octant(grid.spacing, grid.shape, geometry)
        if padded_shape == tuple(2 * n for n in grid.shape):
            return octant_transfer(octant, half=half)
        full = padded_transfer(pad_kernel(octant, padded_shape))
        if not half:
            return full
        return np.ascontiguousarray(full[tuple(slice(0, n) for n in fft.mirrored_shape(full.shape))])


class PointKernel(FreeKernel):
    """Point-sampled kernel ``K[m] = h^d G(m h)`` with a chosen singular value ``K[0]``.

    * ``"zeta"`` (default): ``K[0]`` from the Epstein zeta function of the lattice, which
      cancels the leading error term of the punctured trapezoidal rule -- **4th order** in
      1D/2D/3D and for mixed boundaries, **3rd order** for thin discs.
      3D ``K[0] = Z_3(1) h^2 / (4 pi) = -0.225785 h^2``; 2D ``(h^2 / 2 pi)(ln h + Z_2'(0))``,
      ``Z_2'(0) = -1.3105329``; 1D ``h^2 / 12``; thin disc ``Z_2(1) h / (4 pi)``,
      ``Z_2(1) = -3.900265``. Needs equal spacing on the free axes.
    * ``"chat2"`` (FLUPS CHAT_2 compatible): 3D equal-volume sphere average
      ``-(1/2)(3/4pi)^{2/3} h^2``, 2D/1D/thin disc exact cell average. 2nd order (1st for
      thin discs). Anisotropic cells allowed.

    Option ``split=r_s`` (all axes free, ``geometry="volume"``): sample the smooth long-range
    Green's function of a Gaussian split instead (:func:`long_range_green_function`, the
    free-space twin of the periodic ``split``), for the mesh part of TreePM/P3M forces; the
    singular value is then simply ``G_long(0)``.

    Mixed boundaries (periodic + free axes): per transverse mode ``k`` the free-axis kernel is
    the Green's function of ``d^2/dz^2 - k^2``: one free axis ``g_k(z) = -exp(-k|z|)/(2k)``
    (``|z|/2`` at ``k = 0``), two free axes ``g_k(r) = -K0(k r)/(2 pi)`` (``ln r / 2 pi``).
    The zeta correction adds ``h^2/12`` (one free axis) or the 2D zeta value of the log part
    (two free axes) to every mode.
    """

    geometries = ("volume", "thin_disc")
    mixed = True
    option_names = ("split",)

    def __init__(self, singular="zeta", **options):
        super().__init__(**options)
        if singular not in ("zeta", "chat2"):
            raise ValueError(f"singular={singular!r}; choose 'zeta' or 'chat2'")
        self.singular = singular
        self.name = singular
        self.order = 4 if singular == "zeta" else 2
        self.split = self.options.get("split")
        if self.split is not None:
            self.split = float(self.split)
            if not (math.isfinite(self.split) and self.split > 0):
                raise ValueError(f"split={options['split']!r} must be a length > 0")
        self.anisotropic = singular != "zeta" or self.split is not None

    def check(self, grid, geometry="volume"):
        super().check(grid, geometry)
        if self.split is not None and (geometry != "volume" or not all(not p for p in grid.periodic)):
            raise ValueError(f"kernel {self.name!r} with split= needs every axis free and "
                             "geometry='volume' (mixed boundaries and thin discs have no split form)")

    def order_for(self, geometry):
        if geometry == "thin_disc":
            return 3 if self.singular == "zeta" else 1
        return self.order

    def origin_value(self, spacing, geometry="volume"):
        """The singular value ``K[0]`` (cell volume included)."""
        nd = len(spacing)
        if self.singular == "zeta":
            h = _isotropic(spacing, self.name)
            if geometry == "thin_disc":
                return ZETA2_HALF * h / (4 * np.pi)
            if nd == 3:
                return ZETA3 * h * h / (4 * np.pi)
            if nd == 2:
                return h * h / (2 * np.pi) * (np.log(h) + ZETA2_PRIME0)
            return h * h / 12
        if nd == 3 and geometry == "volume":
            vol = math.prod(spacing)
            radius = (3 * vol / (4 * np.pi)) ** (1 / 3)
            return -vol * 3 / (8 * np.pi * radius)  # sphere average of -1/(4 pi r) times volume
        return float(cell_integral(spacing, (0,) * nd, geometry).flat[0])

    def octant(self, spacing, counts, geometry="volume"):
        nd = len(spacing)
        if self.split is not None:
            k = radial_octant(lambda r: long_range_green_function(r, nd, self.split),
                               spacing, counts)
        else:
            k = radial_octant(lambda r: green_function(r, nd, geometry), spacing, counts)
        k *= math.prod(spacing)
        if self.split is None:
            k.flat[0] = self.origin_value(spacing, geometry)
        return k

    # -- mixed periodic/free boundaries -------------------------------------------------------
    def mode_octant(self, spacing, counts, kperp):
        """Per-mode lag arrays for mixed boundaries.

        ``spacing``/``counts`` describe the free axes (1 or 2 of them); ``kperp`` is an array
        of transverse wavenumber magnitudes (any shape). Returns an array of shape
        ``(*[n + 1 for n in counts], *kperp.shape)``.
        """
        kperp = np.asarray(kperp, dtype=np.float64)
        nf = len(spacing)
        r = _lag_radius(spacing, counts)
        rr = r.reshape(r.shape + (1,) * kperp.ndim)
        kk = kperp.reshape((1,) * nf + kperp.shape)
        vol = math.prod(spacing)
        pos = kk > 0
        ksafe = np.where(pos, kk, 1.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if nf == 1:
                g = np.where(pos, -np.exp(-ksafe * rr) / (2 * ksafe), rr / 2)
            elif nf == 2:
                g = np.where(pos, -sp.k0(ksafe * rr) / (2 * np.pi), np.log(rr) / (2 * np.pi))
            else:
                raise ValueError("mixed boundaries need 1 or 2 free axes")
            out = vol * g
        k0 = kperp
        origin = (0,) * nf
        if nf == 1:
            h = spacing[0]
            if self.singular == "zeta":
                # g_k(z) = -1/(2k) + |z|/2 + O(z^2): the |z| kink gets the 1D zeta weight h^2/12
                with np.errstate(divide="ignore"):
                    base = np.where(k0 > 0, -h / (2 * np.where(k0 > 0, k0, 1.0)), 0.0)
                val = base + h * h / 12
            else:
                with np.errstate(divide="ignore"):
                    val = np.where(k0 > 0, -h / (2 * np.where(k0 > 0, k0, 1.0)), 0.0)
        else:
            # -K0(k r)/(2 pi) = ln(r)/(2 pi) + (ln(k/2) + gamma)/(2 pi) + O(r^2 ln r)
            ks = np.where(k0 > 0, k0, 1.0)
            regular = np.where(k0 > 0, (np.log(ks / 2) + np.euler_gamma) / (2 * np.pi), 0.0)
            if self.singular == "zeta":
                h = _isotropic(spacing, self.name)
                val = h * h / (2 * np.pi) * (np.log(h) + ZETA2_PRIME0) + vol * regular
            else:
                # FLUPS-style equivalent-disc average of g_k over a disc of the cell's area
                rad = np.sqrt(vol / np.pi)
                x = ks * rad
                disc = np.where(k0 > 0, -(1 - x * sp.k1(x)) / (np.pi * rad**2 * ks**2),
                                (np.log(rad) - 0.5) / (2 * np.pi))
                val = vol * disc
        out[origin] = val
        return out


class IGFKernel(FreeKernel):
    """Integrated Green's function: ``K[m] = int_{cell m} G d^dx`` (exact cell integral).

    Exact for piecewise-constant sources, 2nd order for smooth sampled ones, the right tool for
    very anisotropic cells (Qiang et al. 2006). 1D/2D/3D and thin discs."""

    name = "igf"
    order = 2
    geometries = ("volume", "thin_disc")

    def octant(self, spacing, counts, geometry="volume"):
        return cell_integral(spacing, counts, geometry)


# Hejlesen regularised kernels ----------------------------------------------------------------
_HEJ3 = {2: [], 4: [(1, 1.0)], 6: [(1, 7 / 4), (3, -1 / 4)],
         8: [(1, 19 / 8), (3, -2 / 3), (5, 1 / 24)],
         10: [(1, 187 / 64), (3, -233 / 192), (5, 29 / 192), (7, -1 / 192)]}
_HEJ3_C = {2: 1.0, 4: 3 / 2, 6: 15 / 8, 8: 35 / 16, 10: 315 / 128}
_HEJ2 = {2: [], 4: [(0, 0.5)], 6: [(0, 3 / 4), (2, -1 / 8)],
         8: [(0, 11 / 12), (2, -7 / 24), (4, 1 / 48)],
         10: [(0, 25 / 24), (2, -23 / 48), (4, 13 / 192), (6, -1 / 384)]}
# 1D: R_m(rho) = c0 - e^{-rho^2/2} poly(rho)
_HEJ1 = {2: (1.0, [(0, 1.0)]), 4: (0.5, [(0, 0.5)]), 6: (3 / 8, [(0, 3 / 8), (2, 1 / 8)]),
         8: (5 / 16, [(0, 5 / 16), (2, 1 / 4), (4, -1 / 48)]),
         10: (35 / 128, [(0, 35 / 128), (2, 47 / 128), (4, -23 / 384), (6, 1 / 384)])}


def _poly(terms, x):
    out = np.zeros_like(x)
    for p, c in terms:
        out = out + c * x**p
    return out


class HejlesenKernel(FreeKernel):
    """Hejlesen regularised kernels HEJ_m (m = 2, 4, 6, 8, 10), smoothing ``eps = alpha h``.

    Spectral definition ``G_hat_eps(k) = -(1/k^2) Q(m/2, k^2 eps^2 / 2)`` with
    ``Q(m/2, x) = e^{-x} sum_{j<m/2} x^j / j!`` (= 1 - O((k eps)^m)); sampled in real space
    (``K[m] = h^d G_eps(m h)``, smooth, no singular value). Order m once the source is resolved
    by several ``eps``; option ``alpha`` (default 2, FLUPS; ``alpha = 1`` is 10-100x more
    accurate for resolved sources). In 1D the kernel is normalised to ``|x|/2`` far away.
    Needs equal spacing."""

    anisotropic = False
    option_names = ("alpha",)

    def __init__(self, m, **options):
        super().__init__(**options)
        self.m = int(m)
        self.name = f"hej{self.m}"
        self.order = self.m
        self.alpha = float(self.options.get("alpha", 2.0))
        if not self.alpha > 0:
            raise ValueError(f"alpha={self.alpha} must be > 0")

    def green(self, r, ndim, geometry="volume", eps=1.0):
        r = np.abs(np.asarray(r, dtype=np.float64))
        rho = r / eps
        g = np.exp(-rho * rho / 2)
        m = self.m
        with np.errstate(divide="ignore", invalid="ignore"):
            if ndim == 3:
                val = -(sp.erf(rho / np.sqrt(2)) + _poly(_HEJ3[m], rho) * g / np.sqrt(2 * np.pi)) / (4 * np.pi * r)
                g0 = -_HEJ3_C[m] * np.sqrt(2) / (4 * eps * np.pi**1.5)
                return np.where(r > 0, val, g0)
            if ndim == 2:
                val = (np.log(r) + 0.5 * sp.exp1(rho * rho / 2) - _poly(_HEJ2[m], rho) * g) / (2 * np.pi)
                g0 = (np.log(np.sqrt(2) * eps) - np.euler_gamma / 2 - _poly(_HEJ2[m], np.zeros(1))[0]) / (2 * np.pi)
                return np.where(r > 0, val, g0)
        c0, terms = _HEJ1[m]
        rm = c0 - g * _poly(terms, rho)
        # the published 1D kernel is normalised to G(0) = 0; adding c0 eps/sqrt(2 pi) restores the
        # far field |x|/2 of the exact Green's function (checked against the spectral symbol)
        return r / 2 * sp.erf(rho / np.sqrt(2)) - eps / np.sqrt(2 * np.pi) * (rm - c0)

    def octant(self, spacing, counts, geometry="volume"):
        h = _isotropic(spacing, self.name)
        nd = len(spacing)
        k = radial_octant(lambda r: self.green(r, nd, eps=self.alpha * h), spacing, counts)
        k *= h ** nd
        return k


class Hej0Kernel(FreeKernel):
    """HEJ_0 sharp spectral cut-off at ``k_c = pi / h`` (3D only):
    ``G = -(1 / (2 pi^2 sigma)) Si(r/sigma) / (r/sigma)``, ``sigma = h / pi``. Spectral
    accuracy for band-limited sources. Needs equal spacing."""

    name = "hej0"
    order = INF
    anisotropic = False

    def check(self, grid, geometry="volume"):
        super().check(grid, geometry)
        if grid.ndim != 3:
            raise ValueError("kernel 'hej0' exists in 3D only (the 2D cut-off kernel is "
                             "inaccurate); use 'vgf' for spectral accuracy in 1D/2D")

    def green(self, r, ndim=3, geometry="volume", sigma=1.0):
        x = np.asarray(r, dtype=np.float64) / sigma
        with np.errstate(divide="ignore", invalid="ignore"):
            val = sp.sici(x)[0] / x
        return -np.where(x > 0, val, 1.0) / (2 * np.pi**2 * sigma)

    def octant(self, spacing, counts, geometry="volume"):
        h = _isotropic(spacing, self.name)
        if len(spacing) != 3:
            raise ValueError("kernel 'hej0' exists in 3D only")
        k = radial_octant(lambda r: self.green(r, sigma=h / np.pi), spacing, counts)
        k *= h**3
        return k


class VGFKernel(FreeKernel):
    """Vico-Greengard-Ferrando truncated kernel: spectral accuracy.

    ``G_L = G 1{|x| < L}`` (``L`` >= largest source-target distance; default
    ``1.1 sqrt(sum D_a^2)``) has a smooth transform ``G_hat_L``:
    3D ``-2 sin^2(kL/2)/k^2``; 2D ``-[(1 - J0(kL))/k^2 - L ln L J1(kL)/k]``;
    1D ``-2 sin^2(kL/2)/k^2 + L sin(kL)/k``; thin disc ``-(1/(2k)) int_0^{kL} J0``.
    The lag array is ``K[m] = DCT-I[G_hat_L(k_j)]_m / prod(sigma_a N_a)`` with ``k_j = 2 pi j /
    (sigma_a D_a)`` on ``sigma_a N_a / 2 + 1`` points per axis (oversampling ``sigma_a >=
    (L + D_a)/D_a`` so that the images of the truncated kernel, period ``sigma_a D_a``, stay
    beyond every lag it is used at; at least 3, where the paper's ``4N`` FFT grid is a safe
    default: measured as accurate, 1.3e-12 / 9e-15 relL2 at N = 32 / 64 in 3D, and 2.4x
    cheaper than 4). Anisotropic cells allowed. Option ``L``."""

    name = "vgf"
    order = INF
    geometries = ("volume", "thin_disc")
    option_names = ("L",)

    @staticmethod
    def transfer_truncated(k, L, ndim, geometry="volume"):
        """``G_hat_L(k)`` of the truncated Green's function (see class doc), ``k >= 0``."""
        k = np.asarray(k, dtype=np.float64)
        x = k * L
        small = x < 1e-3
        ks = np.where(small, 1.0, k)
        xs = np.where(small, 1.0, x)
        if geometry == "thin_disc":
            # int_0^x J0 via Struve functions (scipy's itj0y0 loses ~1e-10 near x ~ 17)
            itj0 = xs * sp.j0(xs) + np.pi * xs / 2 * (sp.j1(xs) * sp.struve(0, xs)
                                                      - sp.j0(xs) * sp.struve(1, xs))
            return np.where(small, -L / 2 * (1 - x * x / 12), -itj0 / (2 * ks))
        s2 = np.where(small, L * L / 4 * (1 - x * x / 12), np.sin(xs / 2) ** 2 / ks**2)
        if ndim == 3:
            return -2 * s2
        if ndim == 1:
            sinc = np.where(small, L * L * (1 - x * x / 6), L * np.sin(xs) / ks)
            return -2 * s2 + sinc
        one_j0 = np.where(small, L * L / 4 * (1 - x * x / 16), (1 - sp.j0(xs)) / ks**2)
        j1 = np.where(small, L * L / 2 * (1 - x * x / 8), L * sp.j1(xs) / ks)
        return -(one_j0 - np.log(L) * j1)

    def octant(self, spacing, counts, geometry="volume"):
        nd = len(spacing)
        boxes = [h * n for h, n in zip(spacing, counts)]
        L = float(self.options.get("L") or 1.1 * math.sqrt(sum(b * b for b in boxes)))
        sig_n, dk = [], []
        for h, n, d in zip(spacing, counts, boxes):
            sigma = max(3, math.ceil((L + d) / d - 1e-12))
            if (sigma * n) % 2:
                sigma += 1
            sig_n.append(sigma * n)
            dk.append(2 * np.pi / (sigma * n * h))
        size = [m // 2 + 1 for m in sig_n]  # Fourier samples k_j = j dk, j = 0..m/2

        def dct(x, axis, keep):  # inverse DCT-I along axis, keeping the lags 0..keep-1
            y = scipy.fft.dct(x, type=1, axis=axis, workers=get_num_threads())
            return y[(slice(None),) * axis + (slice(0, keep),)]

        def ghat(k):
            return self.transfer_truncated(k, L, nd, geometry)

        if nd == 1:
            full = dct(ghat(dk[0] * np.arange(size[0])), 0, counts[0] + 1)
            return full / sig_n[0]
        # the (sigma N / 2 + 1)^d samples (~1 GiB at N = 256) are never held at once: in
        # chunks of planes along axis 0, the other axes are transformed and cut to N + 1 lags
        stage = np.empty((size[0],) + tuple(n + 1 for n in counts[1:]))
        chunk = max(1, (1 << 22) // math.prod(size[1:]))
        if nd == 3 and max(dk) - min(dk) <= 1e-12 * dk[0]:
            # radial: the line (i, j, :) depends on i^2 + j^2 only, so it is sampled and
            # transformed once per distinct value (about half of the pairs), then gathered
            sq = [np.arange(n) ** 2 for n in size]
            s01, inv = np.unique(sq[0][:, None] + sq[1][None, :], return_inverse=True)
            inv = inv.reshape(size[0], size[1])
            table = ghat(dk[0] * np.sqrt(np.arange(s01[-1] + sq[2][-1] + 1.0)))
            lines = np.empty((s01.size, counts[2] + 1))
            step = max(1, (1 << 22) // size[2])
            rows = np.empty((min(step, s01.size), size[2]))
            for u in range(0, s01.size, step):
                part = rows[:min(step, s01.size - u)]
                radial_rows(table, s01[u:u + step], part)
                lines[u:u + step] = dct(part, 1, counts[2] + 1)

            def planes(i, i1):
                return dct(lines[inv[i:i1]], 1, counts[1] + 1)
        else:
            rest = np.meshgrid(*[d * np.arange(n) for d, n in zip(dk[1:], size[1:])],
                               indexing="ij", sparse=True)
            rest2 = sum(k * k for k in rest)

            def planes(i, i1):
                k0 = dk[0] * np.arange(i, i1).reshape((-1,) + (1,) * (nd - 1))
                part = ghat(np.sqrt(k0 * k0 + rest2))
                for a in range(nd - 1, 0, -1):
                    part = dct(part, a, counts[a] + 1)
                return part
        for i in range(0, size[0], chunk):
            stage[i:i + chunk] = planes(i, min(i + chunk, size[0]))
        del planes  # and with it the radial lines
        full = np.array(dct(stage, 0, counts[0] + 1))  # a copy: frees the uncut transform
        full /= math.prod(sig_n)
        return full


register("free", "zeta", lambda **o: PointKernel("zeta", **o))
register("free", "chat2", lambda **o: PointKernel("chat2", **o))
register("free", "igf", IGFKernel)
register("free", "hej0", Hej0Kernel)
register("free", "vgf", VGFKernel)
for _m in (2, 4, 6, 8, 10):
    register("free", f"hej{_m}", (lambda m: lambda **o: HejlesenKernel(m, **o))(_m))
