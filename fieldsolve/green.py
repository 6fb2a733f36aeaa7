"""Green's functions of the Laplacian as convolution kernels (array + Fourier symbol).

Sign convention (all of fieldsolve): ``lap(phi) = f``. Gravity uses ``f = 4 pi G rho`` (a point
mass gives ``phi = -G M / r``), electrostatics ``f = -rho / eps0``. The free-space Green's
functions with ``lap(G) = delta`` are

    3D: G = -1 / (4 pi r),   2D: G = ln(r) / (2 pi),   1D: G = |x| / 2,

and, for ``geometry="thin_disc"`` (potential in the plane of a razor-thin sheet, 2D grid),
``G = -1 / (4 pi r)`` restricted to the plane, so that ``f = 4 pi G Sigma`` gives
``phi = -G int Sigma / |x - x'| d^2x'``.

Two families of kernels:

* :class:`PeriodicKernel` -- a Fourier **symbol** ``G_hat(k)`` on the real-FFT layout of a
  periodic grid (``phi_hat = G_hat f_hat``, ``G_hat(0) := 0``). ``array(grid)`` gives the
  equivalent real-space circular kernel.
* :class:`FreeKernel` -- a **lag array** ``K[m]`` on the octant ``m_a = 0..n_a`` (the kernel is
  even): the discrete free-space solve is the aperiodic convolution
  ``phi_i = sum_j K[i - j] f_j``, so ``K`` already contains the cell volume
  (point sampling: ``K[m] = h^d G(m h)``). The solver pads to ``2N``, places the origin at
  index 0 with negative lags wrapped (:func:`pad_kernel`), and stores the FFT of that array,
  which is real because the kernel is even (:func:`kernel_spectrum`).

The singular value ``K[0]`` decides the order of the point-sampled kernel: the
Epstein-zeta ("zeta") value cancels the leading ``h^{d-p}`` error term of the punctured
trapezoidal rule (Marin, Runborg & Tornberg 2014), which turns the 2nd-order Hockney kernel into a
4th-order one (3rd order for thin discs) at zero cost. See ``docs/poisson.md``.

Units: spacings and boxes in the grid's length unit; ``K`` carries length^2 (volume kernels,
any dimension: ``h^d`` times a length^(2-d)) so that ``phi`` has the units of ``f`` x length^2.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.special as sp

from . import fft
from .windows import get_window, window_alias_sum as _window_alias_sum

__all__ = [
    "Kernel", "PeriodicKernel", "FreeKernel", "SpectralKernel", "FD2Kernel", "FD4Kernel",
    "Mehrstellen4Kernel", "OptimalKernel", "PointKernel", "IGFKernel", "LGFKernel",
    "HejlesenKernel", "Hej0Kernel", "VGFKernel", "get_kernel", "kernel_names",
    "PERIODIC_KERNELS", "FREE_KERNELS", "pad_kernel", "kernel_spectrum", "lag_indices",
    "differencing_symbols", "long_range_green_function",
    "ZETA3", "ZETA2_PRIME0", "ZETA2_HALF", "lgf3", "lgf2", "green_function",
]

# -- lattice constants ---------------------------------------------------------------------
#: Epstein zeta Z_3(1) of the cubic lattice (= the Ewald constant lim (psi - 1/r) L).
ZETA3 = -2.8372974794806
#: Z_2'(0) of the square lattice: the zeta singular value of the 2D log kernel.
ZETA2_PRIME0 = -1.3105329259115
#: Z_2(1) = 4 zeta(1/2) beta(1/2) of the square lattice (thin-disc kernel -1/r).
ZETA2_HALF = 4.0 * (-1.4603545088095868) * 0.66769145718960917
#: Watson's value of the 7-point lattice Green's function at the origin.
LGF3_ORIGIN = -0.2527310098586630

INF = math.inf


def green_function(r, ndim, geometry="volume"):
    """Continuous free-space Green's function ``G(r)`` with ``lap G = delta`` (see module doc)."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore"):
        if geometry == "thin_disc":
            return -1.0 / (4 * np.pi * r)
        if ndim == 3:
            return -1.0 / (4 * np.pi * r)
        if ndim == 2:
            return np.log(r) / (2 * np.pi)
    return np.abs(r) / 2


def long_range_green_function(r, ndim, split):
    """Long-range part of the Green's function for a Gaussian split of radius ``r_s``:
    ``G_hat(k) exp(-k^2 r_s^2)``, i.e. ``G`` smoothed by a Gaussian of variance ``2 r_s^2``
    per axis. Smooth and finite at ``r = 0``:

        3D: -erf(r / 2 r_s) / (4 pi r)                      (-1 / (4 pi^{3/2} r_s) at 0)
        2D: [ln r + E1(r^2 / 4 r_s^2) / 2] / (2 pi)          ((ln 2 r_s - gamma/2) / (2 pi) at 0)
        1D: [x erf(x / 2 r_s) + (2 r_s / sqrt(pi)) e^{-x^2/4 r_s^2}] / 2

    The short-range complement ``G - G_long`` (what a tree or direct sum adds, TreePM/P3M) is,
    as a force on a unit source in 3D, ``-r_hat / (4 pi r^2) [erfc(r / 2 r_s) +
    (r / (r_s sqrt(pi))) exp(-r^2 / 4 r_s^2)]``."""
    r = np.abs(np.asarray(r, dtype=np.float64))
    rs = float(split)
    u = r / (2 * rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ndim == 3:
            return np.where(r > 0, -sp.erf(u) / (4 * np.pi * r), -1 / (4 * np.pi ** 1.5 * rs))
        if ndim == 2:
            return np.where(r > 0, (np.log(r) + 0.5 * sp.exp1(u * u)) / (2 * np.pi),
                            (np.log(2 * rs) - np.euler_gamma / 2) / (2 * np.pi))
    return 0.5 * (r * sp.erf(u) + 2 * rs / np.sqrt(np.pi) * np.exp(-u * u))


# -- helpers shared by the solver --------------------------------------------------------------
def lag_indices(n_padded):
    """Signed lag of every index of a padded axis: ``j`` for ``j < P/2``, ``j - P`` above.

    ``numpy.fft.fftfreq(P) * P`` is exactly the wrap rule for both ``P = 2N`` (the lag ``-N``
    entry is never used by an ``N``-point source) and the minimal ``P = 2N - 1``, where the
    wrap must be ``j - (2N - 1)`` for ``j >= N`` (pitfall: reusing the ``2N`` formula there
    costs 6e-2 in relL2).
    """
    return np.rint(np.fft.fftfreq(n_padded) * n_padded).astype(np.int64)


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


def kernel_spectrum(padded, free_axes=None, imag_tol=1e-9):
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


def _isotropic(spacing, what):
    h = spacing[0]
    if any(abs(x - h) > 1e-12 * h for x in spacing):
        raise ValueError(f"kernel {what!r} needs equal spacing on its free-space axes, got "
                         f"{tuple(spacing)}; use 'chat2', 'igf' or 'vgf' for anisotropic cells")
    return h


def _lag_radius(spacing, counts, scale=True):
    """|m h| (physical) on the octant ``m_a = 0..counts_a``."""
    axes = [np.arange(n + 1, dtype=np.float64) * (h if scale else 1.0)
            for h, n in zip(spacing, counts)]
    mesh = np.meshgrid(*axes, indexing="ij", sparse=True)
    return np.sqrt(sum(m * m for m in mesh))


# ---------------------------------------------------------------------------------------------
class Kernel:
    """Base class: a named Green's function with its order of accuracy."""

    name = "kernel"
    kind = "free"  # "periodic" | "free"
    order = 2
    geometries = ("volume",)
    option_names: tuple = ()
    mixed = False  # usable with mixed periodic/free axes
    anisotropic = True

    def __init__(self, **options):
        unknown = set(options) - set(self.option_names)
        if unknown:
            allowed = ", ".join(self.option_names) or "none"
            raise ValueError(f"kernel {self.name!r} got unknown option(s) {sorted(unknown)}; "
                             f"accepted: {allowed}")
        self.options = dict(options)

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({self.name!r}{', ' + opts if opts else ''})"

    def check(self, grid, geometry):
        """Raise ValueError if this kernel cannot solve on ``grid`` with ``geometry``."""
        if geometry not in self.geometries:
            raise ValueError(f"kernel {self.name!r} does not support geometry={geometry!r}; "
                             f"it supports {self.geometries}")


# == periodic symbols ===========================================================================
def _sin2(grid, rfft=True):
    """``s_a = sin^2(k_a h_a / 2)`` per axis on the (r)FFT layout."""
    return [np.sin(k * h / 2) ** 2 for k, h in zip(grid.kvectors(rfft=rfft), grid.spacing)]


class PeriodicKernel(Kernel):
    """A Fourier symbol ``G_hat(k)`` for periodic axes; ``G_hat(0) = 0`` (k = 0 mode dropped).

    Option ``split=r_s`` multiplies the symbol by ``exp(-k^2 r_s^2)`` (Gaussian long-range
    part of a TreePM/P3M split: the potential of a unit point becomes
    ``-erf(r / 2 r_s) / (4 pi r)`` summed over images).
    """

    kind = "periodic"
    option_names = ("split",)

    def check(self, grid, geometry):
        super().check(grid, geometry)
        if not grid.all_periodic:
            raise ValueError(f"kernel {self.name!r} is a periodic kernel but the grid has "
                             f"free axes {grid.periodic}; free-space kernels: "
                             f"{sorted(FREE_KERNELS)}")

    def _raw(self, grid):  # pragma: no cover - abstract
        raise NotImplementedError

    def symbol(self, grid, rfft=True):
        """``G_hat(k)`` (real) on the rfft (or full fft) layout of ``grid``, zero at k = 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.asarray(self._raw(grid, rfft), dtype=np.float64)
        g = np.broadcast_to(g, grid.rfft_shape if rfft else grid.shape).copy()
        g.flat[0] = 0.0
        rs = self.options.get("split")
        if rs:
            g *= np.exp(-grid.k2(rfft=rfft) * float(rs) ** 2)
        return g

    def array(self, grid):
        """Real-space circular kernel ``K`` with ``phi = K (*) f`` (inverse DFT of the symbol)."""
        return fft.irfftn(self.symbol(grid), grid.shape)


class SpectralKernel(PeriodicKernel):
    """``G_hat = -1/k^2``: exact Laplacian, spectral accuracy."""

    name = "spectral"
    order = INF

    def _raw(self, grid, rfft):
        return -1.0 / grid.k2(rfft=rfft)


class FD2Kernel(PeriodicKernel):
    """Inverse of the (2d+1)-point Laplacian: ``G_hat = -1 / sum_a (2 sin(k_a h_a/2)/h_a)^2``."""

    name = "fd2"
    order = 2

    def _raw(self, grid, rfft):
        return -1.0 / sum(4 * s / h**2 for s, h in zip(_sin2(grid, rfft), grid.spacing))


class FD4Kernel(PeriodicKernel):
    """Inverse of the wide 4th-order Laplacian (5 points per axis):
    ``G_hat = -1 / sum_a (4 s_a + (4/3) s_a^2) / h_a^2``, ``s_a = sin^2(k_a h_a / 2)``."""

    name = "fd4"
    order = 4

    def _raw(self, grid, rfft):
        return -1.0 / sum((4 * s + 4.0 / 3.0 * s * s) / h**2
                          for s, h in zip(_sin2(grid, rfft), grid.spacing))


class Mehrstellen4Kernel(PeriodicKernel):
    """Compact 4th-order Mehrstellen operator (19-point in 3D, 9-point in 2D, Numerov in 1D)
    with its right-hand-side correction:
    ``G_hat = h^2 (1 - S1/3) / (-4 S1 + (8/3) S2)``, ``S1 = sum s_a``, ``S2 = sum_{a<b} s_a s_b``.
    Needs equal spacing."""

    name = "mehrstellen4"
    order = 4
    anisotropic = False

    def check(self, grid, geometry):
        super().check(grid, geometry)
        _isotropic(grid.spacing, self.name)

    def _raw(self, grid, rfft):
        s = _sin2(grid, rfft)
        h = grid.spacing[0]
        s1 = sum(s)
        s2 = sum(s[a] * s[b] for a in range(len(s)) for b in range(a + 1, len(s))) if len(s) > 1 else 0.0
        return h * h * (1 - s1 / 3) / (-4 * s1 + 8.0 / 3.0 * s2)


_DIFFERENCING = ("spectral", "fd2", "fd4")


def differencing_symbols(grid, method, rfft=True):
    """Per-axis real symbols ``D_a(k)`` of a gradient, ``d phi / dx_a <-> i D_a(k) phi_hat``.

    ``"spectral"``: ``D = k`` with the Nyquist plane zeroed on even axes (``i k`` there is not
    the transform of a real field); ``"fd2"``: ``sin(k h)/h`` (central 2-point);
    ``"fd4"``: ``(8 sin(k h) - sin(2 k h)) / (6 h)`` (central 4-point, FastPM's super-Lanczos).
    Arrays broadcast to the (r)FFT layout of ``grid``."""
    if method not in _DIFFERENCING:
        raise ValueError(f"gradient={method!r}; choose one of {_DIFFERENCING}")
    out = []
    for a, k in enumerate(grid.kvectors(rfft=rfft)):
        h = grid.spacing[a]
        if method == "spectral":
            k = k.copy()
            n = grid.shape[a]
            if n % 2 == 0:
                k[(0,) * a + (n // 2,)] = 0.0
            out.append(k)
        elif method == "fd2":
            out.append(np.sin(k * h) / h)
        else:
            out.append((8 * np.sin(k * h) - np.sin(2 * k * h)) / (6 * h))
    return tuple(out)


class OptimalKernel(PeriodicKernel):
    """Hockney-Eastwood optimal influence function for a PM force calculation.

    A PM force with deposit and readout window ``U`` (transfer ``U(k) = prod_a sinc^p``),
    gradient symbol ``D(k)`` (:func:`differencing_symbols`) and influence function ``G`` gives
    the pair force ``F_PM``; ``G_opt`` minimises its mean-square deviation from the
    **reference force** ``R(k) = i k S^2(k) / k^2`` (the field ``-grad(phi)`` of a unit source of
    ``lap(phi) = f``: a point for ``split = 0``, a Gaussian cloud ``S^2 = exp(-k^2 r_s^2)`` for
    ``split = r_s``), averaged over source positions within a cell and over all separations
    (Hockney & Eastwood 1988, eq. 8-22):

        G_opt(k) = - D(k) . sum_n U^2(k_n) k_n S^2(k_n) / k_n^2 / ( |D(k)|^2 [sum_n U^2(k_n)]^2 ),

    ``k_n = k + 2 pi n / h``. The denominator's alias sum is the window's closed form
    (:func:`fieldsolve.window_alias_sum`); the numerator sums ``|n_a| <= alias`` (default 2).
    With ``interlace=True`` both sums run over the aliases an interlaced deposit and readout
    keep (even ``n_1 + ... + n_d``; all of them on Nyquist modes). Window deconvolution is
    built in: do not deconvolve again.
    Options ``window`` (default ``"cic"``), ``differencing`` (default ``"spectral"``),
    ``split``, ``interlace``, ``alias``; :class:`fieldsolve.pm.ParticleMesh` sets ``window``,
    ``differencing`` and ``interlace`` from its own settings.
    """

    name = "optimal"
    option_names = ("window", "split", "differencing", "alias", "interlace")

    def __init__(self, **options):
        super().__init__(**options)
        self.window = get_window(self.options.get("window", "cic"))
        self.differencing = self.options.get("differencing", "spectral")
        if self.differencing not in _DIFFERENCING:
            raise ValueError(f"differencing={self.differencing!r}; choose one of {_DIFFERENCING}")
        self.alias = int(self.options.get("alias", 2))
        if self.alias < 1:
            raise ValueError(f"alias={self.alias}: needs at least 1 alias image per axis")
        self.interlace = bool(self.options.get("interlace", False))
        self.order = 2

    def symbol(self, grid, rfft=True):
        rs = float(self.options.get("split") or 0.0)
        ks = grid.kvectors(rfft=rfft)
        hs = grid.spacing
        nd = grid.ndim
        d = differencing_symbols(grid, self.differencing, rfft)
        # per-axis tables U_a^2(k_a + 2 pi n / h_a), n = -alias..alias
        shifts = np.arange(-self.alias, self.alias + 1)
        u2 = [[self.window.transfer(k + 2 * np.pi * n / h, h) ** 2 for n in shifts]
              for k, h in zip(ks, hs)]
        num, odd = 0.0, 0.0
        for n in np.ndindex(*(len(shifts),) * nd):
            kn = [k + 2 * np.pi * shifts[i] / h for k, i, h in zip(ks, n, hs)]
            kn2 = sum(x * x for x in kn)
            u2n = math.prod(u2[a][i] for a, i in enumerate(n))
            with np.errstate(divide="ignore", invalid="ignore"):
                term = u2n * sum(da * x for da, x in zip(d, kn)) * np.exp(-kn2 * rs * rs) / kn2
            term = np.nan_to_num(term, nan=0.0, posinf=0.0, neginf=0.0)
            if sum(shifts[i] for i in n) % 2:
                odd = odd + term
            else:
                num = num + term
        if self.interlace:  # odd aliases cancel, except on Nyquist modes (plain deposit there)
            num = np.where(grid.nyquist_mask(rfft), num + odd, num)
        else:
            num = num + odd
        usum = _window_alias_sum(grid, self.window, rfft=rfft, interlaced=self.interlace)
        dd = sum(x * x for x in d)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = -num / (dd * usum * usum)
        g = np.broadcast_to(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0),
                            grid.rfft_shape if rfft else grid.shape).copy()
        g.flat[0] = 0.0
        return g


# == free-space lag kernels =====================================================================
class FreeKernel(Kernel):
    """A free-space kernel given by its octant lag array ``K[m]`` (cell volume included)."""

    kind = "free"

    def check(self, grid, geometry):
        super().check(grid, geometry)
        if grid.all_periodic:
            raise ValueError(f"kernel {self.name!r} is a free-space kernel but every axis of the "
                             f"grid is periodic; periodic kernels: {sorted(PERIODIC_KERNELS)}")
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

    def padded(self, spacing, counts, padded_shape, geometry="volume"):
        """The kernel on the padded grid, origin at index 0, negative lags wrapped."""
        return pad_kernel(self.octant(spacing, counts, geometry), padded_shape)

    def spectrum(self, spacing, counts, padded_shape, geometry="volume"):
        """Real rfft-layout transform of :meth:`padded` (the Fourier symbol on the padded grid)."""
        return kernel_spectrum(self.padded(spacing, counts, padded_shape, geometry))


def _point_octant(spacing, counts, geometry):
    """``h^d G(|m h|)`` on the octant (origin entry left as 0 for the caller to set)."""
    r = _lag_radius(spacing, counts)
    vol = math.prod(spacing)
    nd = len(spacing)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = vol * green_function(r, nd, geometry)
    k.flat[0] = 0.0
    return k


# cell integrals of the kernels (antiderivatives F with d^d F / dx1..dxd = G) ----------------
def _F3(x, y, z):
    r = np.sqrt(x * x + y * y + z * z)
    return (x * y * np.log(z + r) + y * z * np.log(x + r) + z * x * np.log(y + r)
            - 0.5 * x * x * np.arctan(y * z / (x * r)) - 0.5 * y * y * np.arctan(z * x / (y * r))
            - 0.5 * z * z * np.arctan(x * y / (z * r)))


def _F2log(x, y):
    # d^2/dxdy of this is ln(r) = ln(x^2 + y^2) / 2
    r2 = x * x + y * y
    return 0.5 * (x * y * np.log(r2) - 3 * x * y + x * x * np.arctan(y / x) + y * y * np.arctan(x / y))


def _F2inv(x, y):
    # d^2/dxdy of this is 1/r
    r = np.sqrt(x * x + y * y)
    return x * np.log(y + r) + y * np.log(x + r)


def _F1(x):
    return x * np.abs(x) / 4  # d/dx of this is |x|/2


def _cell_integral(spacing, counts, geometry):
    """``int_{cell m} G d^dx`` on the octant by inclusion-exclusion over the 2^d corners."""
    nd = len(spacing)
    axes = [np.arange(n + 1, dtype=np.float64) * h for h, n in zip(spacing, counts)]
    if geometry == "thin_disc":
        F, scale = _F2inv, -1.0 / (4 * np.pi)
    elif nd == 3:
        F, scale = _F3, -1.0 / (4 * np.pi)
    elif nd == 2:
        F, scale = _F2log, 1.0 / (2 * np.pi)
    else:
        F, scale = _F1, 1.0
    total = 0.0
    for corner in np.ndindex(*(2,) * nd):
        pts = [ax + (c - 0.5) * h for ax, c, h in zip(axes, corner, spacing)]
        mesh = np.meshgrid(*pts, indexing="ij", sparse=True)
        sign = (-1) ** (nd - sum(corner))
        total = total + sign * F(*mesh)
    return scale * total


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

    def check(self, grid, geometry):
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
        return float(_cell_integral(spacing, (0,) * nd, geometry).flat[0])

    def octant(self, spacing, counts, geometry="volume"):
        if self.split is not None:
            return math.prod(spacing) * long_range_green_function(
                _lag_radius(spacing, counts), len(spacing), self.split)
        k = _point_octant(spacing, counts, geometry)
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
        return _cell_integral(spacing, counts, geometry)


# lattice Green's functions ------------------------------------------------------------------
_U = None


def _lgf_nodes():
    """Trapezoid nodes in u = ln t for int_0^inf dt (analytic head and tail added separately)."""
    global _U
    if _U is None:
        du = 0.05
        u = np.arange(-34.0, np.log(4e8) + du / 2, du)
        w = np.full(u.size, du)
        w[0] = w[-1] = du / 2
        _U = (np.exp(u), w * np.exp(u), np.exp(u[-1]), du)
    return _U


def _bessel_table(m, d):
    """Lags ``|m|`` (..., d) flattened, ``ive(n, 2t)`` for every lag value ``n`` at the
    quadrature nodes, the nodes, and a chunk size that bounds the (chunk, nodes) products."""
    m = np.abs(np.asarray(m, dtype=np.int64))
    flat = m.reshape(-1, d)
    nodes = _lgf_nodes()
    t = nodes[0]
    mmax = int(flat.max()) if flat.size else 0
    table = sp.ive(np.arange(mmax + 1)[:, None], 2 * t[None, :])
    return m, flat, table, nodes, max(1, 2_000_000 // t.size)


def lgf3(m):
    """7-point lattice Green's function ``G_L(m) = -int_0^inf prod_a e^{-2t} I_{m_a}(2t) dt``.

    ``m`` is an integer array (..., 3). Exact inverse of the unscaled 7-point Laplacian
    (``G_L(0) = -0.252731009858663``, ``G_L(1,0,0) = G_L(0) + 1/6``), evaluated by a
    trapezoid rule in ``ln t`` plus the large-t tail ``2 (4 pi)^{-3/2} T^{-1/2}`` (with its
    first correction) and an Euler-Maclaurin end correction.
    """
    m, flat, table, (t, w, T, du), chunk = _bessel_table(m, 3)
    out = np.empty(flat.shape[0])
    for s in range(0, flat.shape[0], chunk):
        mm = flat[s:s + chunk]
        prod = table[mm[:, 0]] * table[mm[:, 1]] * table[mm[:, 2]]
        integral = prod @ w
        # Euler-Maclaurin end correction -(du^2/12) f'(b) of the truncated trapezoid rule, with
        # f(u) = t * prod ~ t^{-1/2} near the upper end, so f'(b) = -f(b)/2
        fb = prod[:, -1] * T
        integral += du * du / 12 * 0.5 * fb
        m2 = (mm * mm).sum(axis=1)
        tail = (4 * np.pi) ** -1.5 * (2 * T**-0.5 - (4 * m2 - 3) / 16 * (2.0 / 3.0) * T**-1.5)
        head = np.where(m2 == 0, t[0], 0.0)  # int_0^{t0} 1 dt for m = 0; negligible otherwise
        out[s:s + chunk] = -(integral + tail + head)
    return out.reshape(m.shape[:-1])


def lgf2(m, h=1.0):
    """5-point lattice Green's function ``G_L(m) = a(m) + (ln h - gamma - 1.5 ln 2)/(2 pi)``,
    ``a(m) = int_0^inf e^{-4t}[I_0(2t)^2 - I_{m1}(2t) I_{m2}(2t)] dt`` (so that
    ``G_L ~ ln(|m| h) / (2 pi)`` far away, as the continuous kernel)."""
    m, flat, table, (t, w, T, du), chunk = _bessel_table(m, 2)
    out = np.empty(flat.shape[0])
    for s in range(0, flat.shape[0], chunk):
        mm = flat[s:s + chunk]
        diff = table[0] ** 2 - table[mm[:, 0]] * table[mm[:, 1]]
        integral = diff @ w
        m2 = (mm * mm).sum(axis=1)
        # diff ~ |m|^2 / (16 pi t^2) for large t
        tail = m2 / (16 * np.pi * T)
        out[s:s + chunk] = integral + tail
    return out.reshape(m.shape[:-1]) + (np.log(h) - np.euler_gamma - 1.5 * np.log(2)) / (2 * np.pi)


@lru_cache(maxsize=8)
def _lgf_octant(counts):
    """G_L (3-D or 2-D by ``len(counts)``) on the octant, computed once per distinct sorted
    lag tuple, since G_L is symmetric under axis permutations (cached)."""
    d = len(counts)
    axes = [np.arange(n + 1) for n in counts]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    uniq, inv = np.unique(np.sort(mesh, axis=1), axis=0, return_inverse=True)
    vals = (lgf3 if d == 3 else lgf2)(uniq)
    out = vals[inv.ravel()].reshape(tuple(n + 1 for n in counts))
    out.setflags(write=False)
    return out


class LGFKernel(FreeKernel):
    """Lattice Green's function of the 7/5/3-point Laplacian: ``K[m] = h^2 G_L(m)``.

    The exact inverse of the 2nd-order stencil on the infinite lattice (the consistent choice
    when the rest of a code uses that stencil); 2nd order. Needs equal spacing."""

    name = "lgf"
    order = 2
    anisotropic = False

    def octant(self, spacing, counts, geometry="volume"):
        h = _isotropic(spacing, self.name)
        nd = len(spacing)
        if nd == 3:
            return h * h * np.array(_lgf_octant(tuple(counts)))
        if nd == 2:
            base = np.array(_lgf_octant(tuple(counts)))
            return h * h * (base + np.log(h) / (2 * np.pi))
        return h * h * np.arange(counts[0] + 1, dtype=np.float64) / 2


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
        r = _lag_radius(spacing, counts)
        return h ** len(spacing) * self.green(r, len(spacing), eps=self.alpha * h)


class Hej0Kernel(FreeKernel):
    """HEJ_0 sharp spectral cut-off at ``k_c = pi / h`` (3D only):
    ``G = -(1 / (2 pi^2 sigma)) Si(r/sigma) / (r/sigma)``, ``sigma = h / pi``. Spectral
    accuracy for band-limited sources. Needs equal spacing."""

    name = "hej0"
    order = INF
    anisotropic = False

    def check(self, grid, geometry):
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
        r = _lag_radius(spacing, counts)
        return h**3 * self.green(r, sigma=h / np.pi)


class VGFKernel(FreeKernel):
    """Vico-Greengard-Ferrando truncated kernel: spectral accuracy.

    ``G_L = G 1{|x| < L}`` (``L`` >= largest source-target distance; default
    ``1.1 sqrt(sum D_a^2)``) has a smooth transform ``G_hat_L``:
    3D ``-2 sin^2(kL/2)/k^2``; 2D ``-[(1 - J0(kL))/k^2 - L ln L J1(kL)/k]``;
    1D ``-2 sin^2(kL/2)/k^2 + L sin(kL)/k``; thin disc ``-(1/(2k)) int_0^{kL} J0``.
    The lag array is ``K[m] = DCT-I[G_hat_L(k_j)]_m / prod(sigma_a N_a)`` with ``k_j = 2 pi j /
    (sigma_a D_a)`` on ``sigma_a N_a / 2 + 1`` points per axis (oversampling ``sigma_a >=
    (L + D_a)/D_a``, at least 4: the DCT-I replaces the classic ``4N`` FFT grid by
    ``(2N+1)^d`` reals). Anisotropic cells allowed. Option ``L``."""

    name = "vgf"
    order = INF
    geometries = ("volume", "thin_disc")
    option_names = ("L",)

    @staticmethod
    def symbol_truncated(k, L, ndim, geometry="volume"):
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
        ks = []
        sig_n = []
        for h, n, d in zip(spacing, counts, boxes):
            sigma = max(4, math.ceil((L + d) / d - 1e-12))
            if (sigma * n) % 2:
                sigma += 1
            m = sigma * n
            sig_n.append(m)
            ks.append(2 * np.pi * np.arange(m // 2 + 1) / (m * h))
        ghat = np.empty(tuple(k.size for k in ks))
        rest = np.meshgrid(*ks[1:], indexing="ij", sparse=True)
        rest2 = sum(k * k for k in rest) if nd > 1 else 0.0
        # slab by slab: the (2N+1)^3 array is ~1 GiB at N = 256, its temporaries would be several
        for i, k0 in enumerate(ks[0]):
            ghat[i] = self.symbol_truncated(np.sqrt(k0 * k0 + rest2), L, nd, geometry)
        full = scipy.fft.dctn(ghat, type=1, workers=-1, overwrite_x=True)
        del ghat
        full /= math.prod(sig_n)
        return np.ascontiguousarray(full[tuple(slice(0, n + 1) for n in counts)])


# == registry ====================================================================================
PERIODIC_KERNELS = {
    "spectral": SpectralKernel, "fd2": FD2Kernel, "fd4": FD4Kernel,
    "mehrstellen4": Mehrstellen4Kernel, "optimal": OptimalKernel,
}
FREE_KERNELS = {
    "zeta": lambda **o: PointKernel("zeta", **o), "chat2": lambda **o: PointKernel("chat2", **o),
    "igf": IGFKernel, "lgf": LGFKernel, "hej0": Hej0Kernel, "vgf": VGFKernel,
    **{f"hej{m}": (lambda m: (lambda **o: HejlesenKernel(m, **o)))(m) for m in (2, 4, 6, 8, 10)},
}


def kernel_names(kind=None):
    """Sorted kernel names: all, or those of ``kind`` ``"periodic"`` / ``"free"``."""
    if kind == "periodic":
        return sorted(PERIODIC_KERNELS)
    if kind == "free":
        return sorted(FREE_KERNELS)
    return sorted(PERIODIC_KERNELS) + sorted(FREE_KERNELS)


def get_kernel(name, **options):
    """Build a kernel object by name (see :func:`kernel_names`) with its options."""
    if isinstance(name, Kernel):
        if options:
            raise ValueError("options cannot be combined with a kernel object")
        return name
    if not isinstance(name, str):
        raise ValueError(f"kernel must be a name or a Kernel object, got {type(name).__name__}")
    key = name.lower()
    if key in PERIODIC_KERNELS:
        return PERIODIC_KERNELS[key](**options)
    if key in FREE_KERNELS:
        return FREE_KERNELS[key](**options)
    raise ValueError(f"unknown kernel {name!r}; periodic kernels: {kernel_names('periodic')}; "
                     f"free-space kernels: {kernel_names('free')}")
