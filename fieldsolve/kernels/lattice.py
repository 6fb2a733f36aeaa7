"""Lattice Green's functions of the 7-, 5- and 3-point Laplacians (free family ``"lgf"``): the
exact inverse of the 2nd-order stencil on the infinite lattice."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.special as sp

from .base import register
from .free import FreeKernel
from .green import _isotropic

__all__ = ["LGFKernel", "lgf3", "lgf2"]


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


register("free", "lgf", LGFKernel)
