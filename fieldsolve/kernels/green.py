"""Green's functions of the Laplacian: conventions, the continuous functions and the base class
of the two Green's-function families (``"periodic"``: :mod:`.periodic`, ``"free"``:
:mod:`.free` and :mod:`.lattice`).

Sign convention (all of fieldsolve): ``lap(phi) = f``. Gravity uses ``f = 4 pi G rho`` (a point
mass gives ``phi = -G M / r``), electrostatics ``f = -rho / eps0``. The free-space Green's
functions with ``lap(G) = delta`` are::

    3D: G = -1 / (4 pi r),   2D: G = ln(r) / (2 pi),   1D: G = |x| / 2,

and, for ``geometry="thin_disc"`` (potential in the plane of a razor-thin sheet, 2D grid),
``G = -1 / (4 pi r)`` restricted to the plane, so that ``f = 4 pi G Sigma`` gives
``phi = -G int Sigma / |x - x'| d^2x'``.

* periodic kernels -- a real Fourier **transfer function** ``G_hat(k)`` on the real-FFT layout
  of a periodic grid (``phi_hat = G_hat f_hat``, ``G_hat(0) := 0``); ``array(grid)`` is the
  equivalent real-space circular kernel.
* free-space kernels -- a **lag array** ``K[m]`` on the octant ``m_a = 0..n_a`` (the kernel is
  even): the discrete free-space solve is the aperiodic convolution
  ``phi_i = sum_j K[i - j] f_j``, so ``K`` already contains the cell volume
  (point sampling: ``K[m] = h^d G(m h)``). The solver pads to ``2N``, places the origin at
  index 0 with negative lags wrapped (``array``), and keeps the FFT of that array, which is
  real because the kernel is even (``transfer``).

Units: spacings and boxes in the grid's length unit; ``K`` carries length^2 (volume kernels,
any dimension: ``h^d`` times a length^(2-d)) so that ``phi`` has the units of ``f`` x length^2.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sp

from .base import Kernel

__all__ = ["GreenKernel", "green_function", "long_range_green_function", "ZETA3", "ZETA2_PRIME0",
           "ZETA2_HALF", "LGF3_ORIGIN", "INF"]

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



class GreenKernel(Kernel):
    """Base of the Green's functions: a kernel of ``lap(G) = delta`` with the geometries it
    supports; ``check(grid, geometry)`` refuses what it cannot solve."""

    kind = "free"  # "periodic" | "free"
    geometries = ("volume",)
    mixed = False  # usable with mixed periodic/free axes
    anisotropic = True

    @property
    def family(self):
        return self.kind

    def check(self, grid, geometry="volume"):
        """Raise ValueError if this kernel cannot solve on ``grid`` with ``geometry``."""
        if geometry not in self.geometries:
            raise ValueError(f"kernel {self.name!r} does not support geometry={geometry!r}; "
                             f"it supports {self.geometries}")
