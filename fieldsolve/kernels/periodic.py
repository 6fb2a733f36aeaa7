"""Periodic Green's functions (family ``"periodic"``): ``G_hat(k)`` of the Laplacian on a
periodic grid, the inverse of an exact or discrete Laplacian symbol, and the Hockney-Eastwood
optimal influence function of a PM force calculation. Conventions: :mod:`.green`."""
from __future__ import annotations

import math

import numpy as np

from .. import fft
from .base import names, register
from .differencing import GRADIENTS, differencing_symbols, sin2
from .green import INF, GreenKernel, _isotropic
from .windows import get_window, window_alias_sum

__all__ = ["PeriodicKernel", "SpectralKernel", "FD2Kernel", "FD4Kernel", "Mehrstellen4Kernel",
           "OptimalKernel"]


class PeriodicKernel(GreenKernel):
    """A Fourier symbol ``G_hat(k)`` for periodic axes; ``G_hat(0) = 0`` (k = 0 mode dropped).

    Option ``split=r_s`` multiplies the symbol by ``exp(-k^2 r_s^2)`` (Gaussian long-range
    part of a TreePM/P3M split: the potential of a unit point becomes
    ``-erf(r / 2 r_s) / (4 pi r)`` summed over images).
    """

    kind = "periodic"
    option_names = ("split",)

    def check(self, grid, geometry="volume"):
        super().check(grid, geometry)
        if not grid.all_periodic:
            raise ValueError(f"kernel {self.name!r} is a periodic kernel but the grid has "
                             f"free axes {grid.periodic}; free-space kernels: "
                             f"{list(names('free'))}")

    def _raw(self, grid):  # pragma: no cover - abstract
        raise NotImplementedError

    def transfer(self, grid, rfft=True):
        """``G_hat(k)`` (real) on the rfft (or full fft) layout of ``grid``, zero at k = 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.asarray(self._raw(grid, rfft), dtype=np.float64)
        g = np.broadcast_to(g, grid.rfft_shape if rfft else grid.shape).copy()
        g[grid.k2(rfft=rfft) == 0] = 0.0  # the k = 0 mode (wherever it is in a block of the layout)
        rs = self.options.get("split")
        if rs:
            g *= np.exp(-grid.k2(rfft=rfft) * float(rs) ** 2)
        return g

    def array(self, grid):
        """Real-space circular kernel ``K`` with ``phi = K (*) f`` (inverse DFT of the
        transfer function), origin at index 0."""
        return fft.irfftn(self.transfer(grid), grid.shape)


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
        return -1.0 / sum(4 * s / h**2 for s, h in zip(sin2(grid, rfft), grid.spacing))


class FD4Kernel(PeriodicKernel):
    """Inverse of the wide 4th-order Laplacian (5 points per axis):
    ``G_hat = -1 / sum_a (4 s_a + (4/3) s_a^2) / h_a^2``, ``s_a = sin^2(k_a h_a / 2)``."""

    name = "fd4"
    order = 4

    def _raw(self, grid, rfft):
        return -1.0 / sum((4 * s + 4.0 / 3.0 * s * s) / h**2
                          for s, h in zip(sin2(grid, rfft), grid.spacing))


class Mehrstellen4Kernel(PeriodicKernel):
    """Compact 4th-order Mehrstellen operator (19-point in 3D, 9-point in 2D, Numerov in 1D)
    with its right-hand-side correction:
    ``G_hat = h^2 (1 - S1/3) / (-4 S1 + (8/3) S2)``, ``S1 = sum s_a``, ``S2 = sum_{a<b} s_a s_b``.
    Needs equal spacing."""

    name = "mehrstellen4"
    order = 4
    anisotropic = False

    def check(self, grid, geometry="volume"):
        super().check(grid, geometry)
        _isotropic(grid.spacing, self.name)

    def _raw(self, grid, rfft):
        s = sin2(grid, rfft)
        h = grid.spacing[0]
        s1 = sum(s)
        s2 = sum(s[a] * s[b] for a in range(len(s)) for b in range(a + 1, len(s))) if len(s) > 1 else 0.0
        return h * h * (1 - s1 / 3) / (-4 * s1 + 8.0 / 3.0 * s2)


class OptimalKernel(PeriodicKernel):
    """Hockney-Eastwood optimal influence function for a PM force calculation.

    A PM force with deposit and readout window ``U`` (transfer ``U(k) = prod_a sinc^p``),
    gradient symbol ``D(k)`` (:func:`differencing_symbols`) and influence function ``G`` gives
    the pair force ``F_PM``; ``G_opt`` minimises its mean-square deviation from the
    **reference force** ``R(k) = i k S^2(k) / k^2`` (the field ``-grad(phi)`` of a unit source of
    ``lap(phi) = f``: a point for ``split = 0``, a Gaussian cloud ``S^2 = exp(-k^2 r_s^2)`` for
    ``split = r_s``), averaged over source positions within a cell and over all separations
    (Hockney & Eastwood 1988, eq. 8-22)::

        G_opt(k) = - D(k) . sum_n U^2(k_n) k_n S^2(k_n) / k_n^2 / ( |D(k)|^2 [sum_n U^2(k_n)]^2 ),

    ``k_n = k + 2 pi n / h``. The denominator's alias sum is the window's closed form
    (:func:`fieldsolve.window_alias_sum`); the numerator sums ``|n_a| <= alias`` (default 2).
    With ``interlace=True`` both sums run over the aliases an interlaced deposit and readout
    keep (even ``n_1 + ... + n_d``; all of them on Nyquist modes). Window deconvolution is
    built in: do not deconvolve again.
    Options ``window`` (default ``"cic"``), ``gradient`` (default ``"spectral"``; older name
    ``differencing``),
    ``split``, ``interlace``, ``alias``; :class:`fieldsolve.pm.ParticleMesh` sets ``window``,
    ``gradient`` and ``interlace`` from its own settings.
    """

    name = "optimal"
    option_names = ("window", "split", "gradient", "alias", "interlace")

    def __init__(self, **options):
        if "differencing" in options:  # its older name
            if "gradient" in options:
                raise ValueError("give gradient= only (differencing= is its older name)")
            import warnings

            warnings.warn("OptimalKernel: differencing= is now gradient=", DeprecationWarning, stacklevel=2)
            options["gradient"] = options.pop("differencing")
        super().__init__(**options)
        self.window = get_window(self.options.get("window", "cic"))
        self.gradient = self.options.get("gradient", "spectral")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"gradient={self.gradient!r}; choose one of {GRADIENTS}")
        self.alias = int(self.options.get("alias", 2))
        if self.alias < 1:
            raise ValueError(f"alias={self.alias}: needs at least 1 alias image per axis")
        self.interlace = bool(self.options.get("interlace", False))
        self.order = 2

    def transfer(self, grid, rfft=True):
        rs = float(self.options.get("split") or 0.0)
        ks = grid.kvectors(rfft=rfft)
        hs = grid.spacing
        nd = grid.ndim
        d = differencing_symbols(grid, self.gradient, rfft)
        # per-axis tables U_a^2(k_a + 2 pi n / h_a), n = -alias..alias
        shifts = np.arange(-self.alias, self.alias + 1)
        u2 = [[self.window.transfer_1d(k + 2 * np.pi * n / h, h) ** 2 for n in shifts]
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
        usum = window_alias_sum(grid, self.window, rfft=rfft, interlaced=self.interlace)
        dd = sum(x * x for x in d)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = -num / (dd * usum * usum)
        g = np.broadcast_to(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0),
                            grid.rfft_shape if rfft else grid.shape).copy()
        g[grid.k2(rfft=rfft) == 0] = 0.0
        return g


for _name, _cls in (("spectral", SpectralKernel), ("fd2", FD2Kernel), ("fd4", FD4Kernel),
                    ("mehrstellen4", Mehrstellen4Kernel), ("optimal", OptimalKernel)):
    register("periodic", _name, _cls)
