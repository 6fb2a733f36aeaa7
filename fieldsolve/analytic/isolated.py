"""Isolated (free-space) models: Gaussians in 1D/2D/3D, point mass, uniform sphere, Plummer,
Hernquist, razor-thin Gaussian and Kuzmin discs, and the FLUPS compact bump."""
from __future__ import annotations


import numpy as np
import scipy.special as sp

from ._base import _center, _coords, _Model

__all__ = ["Gaussian", "PointMass", "UniformSphere", "Plummer", "Hernquist", "GaussianDisc",
           "KuzminDisc", "CompactBump"]


class Gaussian(_Model):
    """Gaussian blob ``rho = M (2 pi s^2)^{-d/2} exp(-r^2 / 2 s^2)`` in 1, 2 or 3 D.

    Potentials (``lap phi = 4 pi G rho``):
    3D ``-G M erf(r / (sqrt2 s)) / r``; 2D ``G M [2 ln r + E1(r^2 / 2 s^2)]``;
    1D ``2 pi G M [x erf(x / (sqrt2 s)) + s sqrt(2/pi) exp(-x^2 / 2 s^2)]``.
    """

    def __init__(self, mass=1.0, sigma=1.0, center=0.0, ndim=3, G=1.0):
        if ndim not in (1, 2, 3):
            raise ValueError(f"ndim={ndim} must be 1, 2 or 3")
        if not sigma > 0:
            raise ValueError(f"sigma={sigma} must be > 0")
        self.mass, self.sigma, self.ndim, self.G = float(mass), float(sigma), ndim, float(G)
        self.center = _center(center, ndim)

    def density(self, x):
        r, _ = self._r(x)
        s = self.sigma
        return self.mass * (2 * np.pi * s * s) ** (-self.ndim / 2) * np.exp(-r * r / (2 * s * s))

    def potential(self, x):
        r, _ = self._r(x)
        s, GM = self.sigma, self.G * self.mass
        if self.ndim == 3:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = -GM * sp.erf(r / (np.sqrt(2) * s)) / r
            return np.where(r > 0, v, -GM * np.sqrt(2 / np.pi) / s)
        if self.ndim == 2:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = GM * (2 * np.log(r) + sp.exp1(r * r / (2 * s * s)))
            return np.where(r > 0, v, GM * (2 * np.log(np.sqrt(2) * s) - np.euler_gamma))
        return 2 * np.pi * GM * (r * sp.erf(r / (np.sqrt(2) * s))
                                 + s * np.sqrt(2 / np.pi) * np.exp(-r * r / (2 * s * s)))

    def _dphi_dr(self, r):
        s, GM = self.sigma, self.G * self.mass
        if self.ndim == 3:
            e = sp.erf(r / (np.sqrt(2) * s))
            return GM * (e / r**2 - np.sqrt(2 / np.pi) * np.exp(-r * r / (2 * s * s)) / (s * r))
        if self.ndim == 2:
            return 2 * GM * (1 - np.exp(-r * r / (2 * s * s))) / r
        return 2 * np.pi * GM * sp.erf(r / (np.sqrt(2) * s))


class PointMass(_Model):
    """Point mass (3D): ``phi = -G M / r``, acceleration ``-G M r_hat / r^2``. Its density is a
    Dirac delta (a unit source in one cell returns the lag kernel itself)."""

    def __init__(self, mass=1.0, center=0.0, G=1.0):
        self.mass, self.G = float(mass), float(G)
        self.center = _center(center, 3)

    def potential(self, x):
        r, _ = self._r(x)
        with np.errstate(divide="ignore"):
            return -self.G * self.mass / r

    def _dphi_dr(self, r):
        return self.G * self.mass / r**2


class UniformSphere(_Model):
    """Homogeneous sphere of radius ``a``: ``phi = -G M (3 a^2 - r^2) / (2 a^3)`` inside,
    ``-G M / r`` outside."""

    def __init__(self, mass=1.0, radius=1.0, center=0.0, G=1.0):
        self.mass, self.radius, self.G = float(mass), float(radius), float(G)
        self.center = _center(center, 3)

    def density(self, x):
        r, _ = self._r(x)
        return np.where(r <= self.radius, 3 * self.mass / (4 * np.pi * self.radius**3), 0.0)

    def potential(self, x):
        r, _ = self._r(x)
        a, GM = self.radius, self.G * self.mass
        with np.errstate(divide="ignore"):
            return np.where(r <= a, -GM * (3 * a * a - r * r) / (2 * a**3), -GM / r)

    def _dphi_dr(self, r):
        a, GM = self.radius, self.G * self.mass
        return np.where(r <= a, GM * r / a**3, GM / r**2)


class Plummer(_Model):
    """Plummer sphere: ``rho = (3 M / 4 pi a^3) (1 + r^2/a^2)^{-5/2}``, ``phi = -G M / sqrt(r^2 + a^2)``."""

    def __init__(self, mass=1.0, a=1.0, center=0.0, G=1.0):
        self.mass, self.a, self.G = float(mass), float(a), float(G)
        self.center = _center(center, 3)

    def density(self, x):
        r, _ = self._r(x)
        a = self.a
        return 3 * self.mass / (4 * np.pi * a**3) * (1 + r * r / (a * a)) ** -2.5

    def potential(self, x):
        r, _ = self._r(x)
        return -self.G * self.mass / np.sqrt(r * r + self.a**2)

    def _dphi_dr(self, r):
        return self.G * self.mass * r / (r * r + self.a**2) ** 1.5


class Hernquist(_Model):
    """Hernquist sphere: ``rho = M a / (2 pi r (r + a)^3)``, ``phi = -G M / (r + a)``."""

    def __init__(self, mass=1.0, a=1.0, center=0.0, G=1.0):
        self.mass, self.a, self.G = float(mass), float(a), float(G)
        self.center = _center(center, 3)

    def density(self, x):
        r, _ = self._r(x)
        with np.errstate(divide="ignore"):
            return self.mass * self.a / (2 * np.pi * r * (r + self.a) ** 3)

    def potential(self, x):
        r, _ = self._r(x)
        return -self.G * self.mass / (r + self.a)

    def _dphi_dr(self, r):
        return self.G * self.mass / (r + self.a) ** 2


class GaussianDisc(_Model):
    """Razor-thin Gaussian disc ``Sigma = M / (2 pi s^2) exp(-R^2 / 2 s^2)`` (2D coordinates
    in its plane). In-plane potential ``phi = -(G M / s) sqrt(pi/2) e^{-y} I0(y)``,
    ``y = R^2 / (4 s^2)``."""

    ndim = 2

    def __init__(self, mass=1.0, sigma=1.0, center=0.0, G=1.0):
        self.mass, self.sigma, self.G = float(mass), float(sigma), float(G)
        self.center = _center(center, 2)

    def surface_density(self, x):
        r, _ = self._r(x)
        s = self.sigma
        return self.mass / (2 * np.pi * s * s) * np.exp(-r * r / (2 * s * s))

    density = surface_density

    def potential(self, x):
        r, _ = self._r(x)
        s = self.sigma
        return -self.G * self.mass / s * np.sqrt(np.pi / 2) * sp.ive(0, r * r / (4 * s * s))


class KuzminDisc(_Model):
    """Kuzmin (Toomre n=1) disc: ``Sigma = a M / (2 pi (R^2 + a^2)^{3/2})``,
    ``phi(R, z) = -G M / sqrt(R^2 + (a + |z|)^2)``. Coordinates: 2D (in the plane, z = 0)
    or 3D ``(x, y, z)``."""

    def __init__(self, mass=1.0, a=1.0, center=0.0, G=1.0, ndim=2):
        if ndim not in (2, 3):
            raise ValueError("KuzminDisc takes 2D (in-plane) or 3D coordinates")
        self.mass, self.a, self.G, self.ndim = float(mass), float(a), float(G), ndim
        self.center = _center(center, ndim)

    def surface_density(self, x):
        d = self._rel(x)
        R2 = d[0] ** 2 + d[1] ** 2
        return self.a * self.mass / (2 * np.pi * (R2 + self.a**2) ** 1.5)

    density = surface_density

    def potential(self, x):
        d = self._rel(x)
        R2 = d[0] ** 2 + d[1] ** 2
        z = np.abs(d[2]) if self.ndim == 3 else 0.0
        return -self.G * self.mass / np.sqrt(R2 + (self.a + z) ** 2)


class CompactBump:
    """FLUPS C-infinity manufactured solution (compact support, no truncation error):
    ``phi = prod_a b(x_a / R)``, ``b(u) = exp(C (1 - 1/(1 - u^2)))`` for ``|u| < 1``;
    ``density = lap(phi) / (4 pi G)``."""

    def __init__(self, radius=0.4, C=10.0, center=0.0, ndim=3, G=1.0):
        self.radius, self.C, self.ndim, self.G = float(radius), float(C), ndim, float(G)
        self.center = _center(center, ndim)

    def _b(self, u):
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            inside = np.abs(u) < 1
            us = np.where(inside, u, 0.0)
            b = np.where(inside, np.exp(self.C * (1 - 1 / (1 - us * us))), 0.0)
            C = self.C
            b2 = np.where(inside, b * 2 * C * (2 * (C - 1) * us**2 + 3 * us**4 - 1) / (us * us - 1) ** 4, 0.0)
        return b, b2 / self.radius**2

    def potential(self, x):
        c = _coords(x, self.ndim)
        out = 1.0
        for ci, c0 in zip(c, self.center):
            out = out * self._b((ci - c0) / self.radius)[0]
        return out

    def density(self, x):
        c = _coords(x, self.ndim)
        parts = [self._b((ci - c0) / self.radius) for ci, c0 in zip(c, self.center)]
        lap = 0.0
        for a in range(self.ndim):
            term = parts[a][1]
            for b in range(self.ndim):
                if b != a:
                    term = term * parts[b][0]
            lap = lap + term
        return lap / (4 * np.pi * self.G)
