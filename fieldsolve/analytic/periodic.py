"""Periodic and mixed-boundary models: a Fourier mode, Ewald sums for a point mass (potential,
force, long-range part of a Gaussian split), the Gaussian lattice and the mixed-boundary slab
mode."""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sp

from ..grid import Grid
from ._base import _center, _coords

__all__ = ["FourierMode", "GaussianLattice", "EwaldPointMass", "GaussianSlabMode", "ewald_potential",
           "ewald_acceleration", "long_range_acceleration", "EWALD_CONSTANT"]

#: ``lim_{r->0} (psi_Ewald(r) - 1/r) * L`` for a cubic cell of side L (= Z_3(1)).
EWALD_CONSTANT = -2.8372974794806


class FourierMode:
    """Periodic mode ``rho = A cos(k.x + p)``: ``phi = -4 pi G A cos(k.x + p) / |k|^2``."""

    def __init__(self, amplitude, wavevector, phase=0.0, G=1.0):
        self.amplitude, self.phase, self.G = float(amplitude), float(phase), float(G)
        self.k = tuple(float(v) for v in np.atleast_1d(wavevector))
        self.ndim = len(self.k)
        if not any(self.k):
            raise ValueError("wavevector must be non-zero")

    def _arg(self, x):
        return sum(k * c for k, c in zip(self.k, _coords(x, self.ndim))) + self.phase

    def density(self, x):
        return self.amplitude * np.cos(self._arg(x))

    def potential(self, x):
        k2 = sum(k * k for k in self.k)
        return -4 * np.pi * self.G * self.amplitude * np.cos(self._arg(x)) / k2

    def acceleration(self, x):
        k2 = sum(k * k for k in self.k)
        s = np.sin(self._arg(x))
        return np.stack(np.broadcast_arrays(*[-4 * np.pi * self.G * self.amplitude * k * s / k2
                                              for k in self.k]), axis=-1)


# -- Ewald sums ---------------------------------------------------------------------------------
def _ewald_terms(box, alpha, sigma, rtol=1e-16):
    box = np.asarray(box, dtype=np.float64)
    # real space: erfc(alpha r) < rtol beyond r = 6/alpha; k space: exp(-k^2 w) < rtol
    rcut = 6.1 / alpha + 2 * sigma
    nimg = [int(math.ceil(rcut / b)) + 1 for b in box]
    w = 1 / (4 * alpha**2) + sigma**2 / 2
    kcut = math.sqrt(-math.log(rtol) / w)
    mmax = [int(math.ceil(kcut * b / (2 * np.pi))) for b in box]
    return box, nimg, w, mmax


def _kvecs(box, mmax, w, kcut_tol=1e-16):
    ms = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in mmax], indexing="ij"), -1).reshape(-1, 3)
    # half space: one of each +-k pair (weight 2)
    pos = (ms[:, 0] > 0) | ((ms[:, 0] == 0) & (ms[:, 1] > 0)) | \
          ((ms[:, 0] == 0) & (ms[:, 1] == 0) & (ms[:, 2] > 0))
    k = 2 * np.pi * ms[pos] / box
    k2 = (k * k).sum(1)
    amp = np.exp(-k2 * w) / k2
    keep = amp > kcut_tol * amp.max()
    return k[keep], amp[keep]


def ewald_potential(points, box, alpha=None, sigma=0.0, chunk=4096):
    """Periodic 1/r potential ``psi`` of a unit point (``sigma = 0``) or a unit Gaussian of
    width ``sigma`` at the origin, with the zero-mean convention (k = 0 dropped)::

        psi = sum_n [erf(r_n/(sqrt2 sigma)) - erf(r_n/sqrt(2 sigma^2 + 1/alpha^2))] / r_n
              + (4 pi / V) sum_{k != 0} e^{-k^2 (1/(4 alpha^2) + sigma^2/2)} cos(k.r) / k^2
              - pi / (alpha^2 V)

    (``erf(r/0) := 1``; ``alpha`` only splits the work: the result does not depend on it).
    ``points`` (N, 3), ``box`` scalar or (3,). The gravitational potential is ``-G M psi``."""
    x = np.atleast_2d(np.asarray(points, dtype=np.float64))
    box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,))
    vol = float(np.prod(box))
    alpha = float(alpha or 5.0 / min(box))
    box, nimg, w, mmax = _ewald_terms(box, alpha, sigma)
    kv, amp = _kvecs(box, mmax, w)
    x = x - box * np.round(x / box)
    out = np.empty(x.shape[0])
    a2 = math.sqrt(2 * sigma**2 + 1 / alpha**2)
    shifts = np.stack(np.meshgrid(*[np.arange(-n, n + 1) for n in nimg], indexing="ij"), -1).reshape(-1, 3) * box
    for s in range(0, x.shape[0], chunk):
        xs = x[s:s + chunk]
        rn = np.sqrt((((xs[:, None, :] + shifts[None]) ** 2).sum(-1)))
        with np.errstate(divide="ignore", invalid="ignore"):
            near = sp.erf(rn / (math.sqrt(2) * sigma)) if sigma > 0 else np.ones_like(rn)
            real = np.where(rn > 0, (near - sp.erf(rn / a2)) / rn, np.nan)
        if sigma > 0:  # r -> 0 limit of the smoothed term
            lim = math.sqrt(2 / np.pi) * (1 / sigma - 1 / a2)
            real = np.where(rn > 0, real, lim)
        recip = 2 * (4 * np.pi / vol) * (np.cos(xs @ kv.T) * amp).sum(1)
        out[s:s + chunk] = real.sum(1) + recip - np.pi / (alpha**2 * vol)
    return out


def ewald_acceleration(points, box, alpha=None, chunk=4096):
    """``-grad`` of ``-psi`` (the acceleration of a test particle due to a unit point mass at
    the origin and its periodic images, ``G = 1``), shape (N, 3)."""
    x = np.atleast_2d(np.asarray(points, dtype=np.float64))
    box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,))
    vol = float(np.prod(box))
    alpha = float(alpha or 5.0 / min(box))
    box, nimg, w, mmax = _ewald_terms(box, alpha, 0.0)
    kv, amp = _kvecs(box, mmax, w)
    x = x - box * np.round(x / box)
    shifts = np.stack(np.meshgrid(*[np.arange(-n, n + 1) for n in nimg], indexing="ij"), -1).reshape(-1, 3) * box
    out = np.empty_like(x)
    for s in range(0, x.shape[0], chunk):
        xs = x[s:s + chunk]
        d = xs[:, None, :] + shifts[None]
        rn = np.sqrt((d * d).sum(-1))
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = (sp.erfc(alpha * rn) / rn + 2 * alpha / np.sqrt(np.pi) * np.exp(-(alpha * rn) ** 2)) / rn**2
        mag = np.where(rn > 0, mag, 0.0)
        real = -(mag[..., None] * d).sum(1)
        recip = -2 * (4 * np.pi / vol) * (np.sin(xs @ kv.T) * amp) @ kv
        out[s:s + chunk] = real + recip
    return out


def long_range_acceleration(points, box, split, chunk=4096):
    """Long-range (k-space) part of the periodic acceleration of a unit point mass at the
    origin (``G = 1``) for a Gaussian TreePM split of scale ``r_s = split``:
    ``a = -(4 pi / V) sum_{k != 0} k e^{-k^2 r_s^2} sin(k.r) / k^2`` -- what a PM code with
    the potential filter ``exp(-k^2 r_s^2)`` should return. Shape (N, 3)."""
    x = np.atleast_2d(np.asarray(points, dtype=np.float64))
    box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,))
    vol = float(np.prod(box))
    w = float(split) ** 2
    kcut = math.sqrt(-math.log(1e-16) / w)
    mmax = [int(math.ceil(kcut * b / (2 * np.pi))) for b in box]
    kv, amp = _kvecs(box, mmax, w)
    out = np.empty_like(x)
    for s in range(0, x.shape[0], chunk):
        xs = x[s:s + chunk]
        out[s:s + chunk] = -2 * (4 * np.pi / vol) * (np.sin(xs @ kv.T) * amp) @ kv
    return out


class EwaldPointMass:
    """Point mass ``M`` at ``center`` in a periodic box (and all its images), zero-mean
    potential: ``phi = -G M psi_Ewald(x - c)``; acceleration ``-grad phi``. ``alpha`` is the
    (result-independent) Ewald splitting parameter."""

    ndim = 3

    def __init__(self, mass=1.0, center=0.0, box=1.0, alpha=None, G=1.0):
        self.mass, self.G, self.alpha = float(mass), float(G), alpha
        self.center = np.array(_center(center, 3))
        self.box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,)).copy()

    def _pts(self, x):
        c = _coords(x, 3)
        b = np.broadcast_arrays(*c)
        return np.stack(b, -1).reshape(-1, 3) - self.center, b[0].shape

    def potential(self, x):
        p, shape = self._pts(x)
        return (-self.G * self.mass * ewald_potential(p, self.box, self.alpha)).reshape(shape)

    def acceleration(self, x):
        p, shape = self._pts(x)
        return (self.G * self.mass * ewald_acceleration(p, self.box, self.alpha)).reshape(shape + (3,))


class GaussianLattice:
    """Periodic lattice of Gaussian blobs (mass ``M``, width ``s``, one per box, centre ``c``).

    ``rho = sum_images M (2 pi s^2)^{-3/2} exp(-|x - c - n L|^2 / 2 s^2)``;
    zero-mean potential ``phi = -(4 pi G M / V) sum_{k != 0} e^{-k^2 s^2/2} cos(k.(x - c)) / k^2``
    (the potential of ``rho - M/V``). On a :class:`Grid` the series is summed by an inverse FFT
    on an oversampled grid (exact to round-off); at scattered points by the smoothed Ewald sum.
    3D."""

    ndim = 3

    def __init__(self, mass=1.0, sigma=0.1, center=0.0, box=1.0, G=1.0):
        self.mass, self.sigma, self.G = float(mass), float(sigma), float(G)
        self.center = np.array(_center(center, 3))
        self.box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,)).copy()

    def density(self, x):
        c = _coords(x, 3)
        s = self.sigma
        # the Gaussian factorises per axis, so the image sum is a product of 1D sums
        out = 1.0
        for ci, c0, L in zip(c, self.center, self.box):
            d = ci - c0
            d = d - L * np.round(d / L)
            nimg = int(math.ceil(0.5 + 9 * s / L))
            acc = 0.0
            for n in range(-nimg, nimg + 1):
                acc = acc + np.exp(-(d - n * L) ** 2 / (2 * s * s))
            out = out * acc
        return self.mass * (2 * np.pi * s * s) ** -1.5 * out

    def potential(self, x):
        if isinstance(x, Grid):
            return self._potential_grid(x)
        c = _coords(x, 3)
        b = np.broadcast_arrays(*c)
        p = np.stack(b, -1).reshape(-1, 3) - self.center
        return (-self.G * self.mass * ewald_potential(p, self.box, sigma=self.sigma)).reshape(b[0].shape)

    def _potential_grid(self, grid):
        if not np.allclose(grid.box, self.box):
            raise ValueError("grid.box must equal the lattice period")
        s = self.sigma
        kcut = math.sqrt(2 * 39.0) / s  # exp(-k^2 s^2 / 2) < 1e-17 beyond
        shape = []
        for n, b in zip(grid.shape, grid.box):
            need = 2 * int(math.ceil(kcut * b / (2 * np.pi))) + 2
            shape.append(n * max(1, int(math.ceil(need / n))))
        fine = Grid(tuple(shape), grid.box, grid.origin, True)
        # fine-grid cell centres must include the coarse ones: offset by the sub-cell shift
        ks = fine.kvectors(rfft=True)
        k2 = sum(k * k for k in ks)
        with np.errstate(divide="ignore"):
            amp = np.exp(-k2 * s * s / 2) / k2
        amp.flat[0] = 0.0
        ratio = [f // n for f, n in zip(shape, grid.shape)]
        # sample points x_j = origin + (j + 1/2) h_coarse = fine index j*ratio + (ratio-1)/2 ...
        # evaluate the series directly at coarse centres: phase e^{i k.(x0 - c)} with x0 the
        # first coarse centre, then the fine DFT gives values on x0 + i * h_fine
        x0 = np.array([o + 0.5 * h for o, h in zip(grid.origin, grid.spacing)])
        phase = np.exp(1j * sum(k * (x0[a] - self.center[a]) for a, k in enumerate(ks)))
        coef = amp * phase
        from .. import fft as _fft
        vals = _fft.irfftn(coef, fine.shape) * fine.size
        vals = vals[tuple(slice(None, None, r) for r in ratio)]
        vol = float(np.prod(grid.box))
        return -4 * np.pi * self.G * self.mass / vol * vals


class GaussianSlabMode:
    """Mixed-boundary test case: periodic in-plane axes (period ``box``), free last axis z.

    3D: ``rho = g_s(z) [1 + cos(2 pi x / Lx) cos(2 pi y / Ly)]``; 2D (``ndim=2``):
    ``rho = g_s(z) [1 + cos(2 pi x / Lx)]``, with ``g_s`` a unit Gaussian of width ``s``
    centred at ``z0``. With ``lap(phi) = 4 pi G rho``:
    ``phi = 2 pi G [z erf(z / sqrt2 s) + s sqrt(2/pi) e^{-z^2/2s^2}]
    - G c(x) (pi / K) e^{K^2 s^2 / 2} [e^{-K z} erfc((K s^2 - z)/(sqrt2 s))
    + e^{K z} erfc((K s^2 + z)/(sqrt2 s))]``, ``K`` the in-plane wavenumber of the mode
    (``2 pi sqrt(1/Lx^2 + 1/Ly^2)`` in 3D): the mode part solves
    ``psi'' - K^2 psi = 4 pi g_s`` with the kernel ``-exp(-K|z|)/(2K)``."""

    def __init__(self, sigma=1 / 16, z0=0.0, box=1.0, G=1.0, ndim=3):
        if ndim not in (2, 3):
            raise ValueError("GaussianSlabMode is 2D or 3D")
        self.sigma, self.z0, self.G, self.ndim = float(sigma), float(z0), float(G), ndim
        self.box = tuple(float(b) for b in np.broadcast_to(box, (ndim - 1,)))

    def _parts(self, x):
        c = _coords(x, self.ndim)
        cc = 1.0
        for ci, L in zip(c[:-1], self.box):
            cc = cc * np.cos(2 * np.pi * ci / L)
        return cc, c[-1] - self.z0

    def density(self, x):
        cc, z = self._parts(x)
        s = self.sigma
        return np.exp(-z * z / (2 * s * s)) / (np.sqrt(2 * np.pi) * s) * (1 + cc)

    def potential(self, x):
        cc, z = self._parts(x)
        s = self.sigma
        K = 2 * np.pi * math.sqrt(sum(1 / L**2 for L in self.box))
        mean = 2 * np.pi * (z * sp.erf(z / (np.sqrt(2) * s)) + s * np.sqrt(2 / np.pi) * np.exp(-z * z / (2 * s * s)))
        # e^{K^2 s^2/2 - K z} erfc(a) = e^{K^2 s^2/2 - K z - a^2} erfcx(a): no overflow
        a = (K * s * s - z) / (np.sqrt(2) * s)
        b = (K * s * s + z) / (np.sqrt(2) * s)
        t1 = np.exp(K * K * s * s / 2 - K * z - a * a) * sp.erfcx(a)
        t2 = np.exp(K * K * s * s / 2 + K * z - b * b) * sp.erfcx(b)
        return self.G * (mean - cc * np.pi / K * (t1 + t2))
