"""Lattice Green's functions of the 7-, 5- and 3-point Laplacians (free family ``"lgf"``): the
exact inverse of the 2nd-order stencil on the infinite lattice.

Evaluation: a Bessel-function quadrature near the origin (:func:`lgf3`, :func:`lgf2` with
``series_from=inf``) and, from ``|m| >= R`` on, the far-field asymptotic series

    3D:  G_L(m) = -1/(4 pi r) + (1/pi) sum_{t=1}^{8} Q_t(s2, s3) / r^(2t+1) + O(r^-19),
    2D:  G_L(m) = ln(r h)/(2 pi) + (1/pi) sum_{t=1}^{8} Q_t(s2) / r^(2t) + O(r^-18),

``r = |m|``, in the cubic invariants ``s2 = sum_{a<b} u_a^2 u_b^2``, ``s3 = u_1^2 u_2^2 u_3^2``
of ``u = m / r``. Derivation: the stencil symbol ``sigma(k) = sum_a 4 sin^2(k_a/2)`` gives
``G_hat = -1/sigma = -sum_t P_t(k) / |k|^(2t+2)`` (homogeneous terms, ``P_t`` of degree ``4t``),
and each term is inverted exactly, ``P_t(grad)`` applied to the inverse transform of
``|k|^(-2t-2)``: ``Gamma(1/2 - t) r^(2t-1) / (4^(t+1) pi^(3/2) t!)`` in 3D,
``(-1)^(t+1) r^(2t) ln r / (2 pi 4^t t!^2)`` (plus a polynomial the derivatives annihilate) in
2D. ``Q_1 = (5 s2 - 1)/16`` (3D) and ``(8 s2 - 1)/24`` (2D) are the classical first
corrections. Each further term gains ``r^-2`` against the quadrature (tested), which it beats
from ``R = 32`` on: there the first omitted term is below 1e-17 of ``G_L``, while the
quadrature's own error is about 1.5e-15 absolute (3D) and 1e-11 (2D, its ``1/T`` tail).
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import scipy.special as sp

from .base import register
from .free import FreeKernel
from .green import _isotropic

__all__ = ["LGFKernel", "lgf3", "lgf2", "lgf3_series", "lgf2_series", "SERIES_FROM"]

#: radius (in cells) from which the far-field series replaces the quadrature
SERIES_FROM = 32

# Q_t(s2, s3) of the 3D series, t = 1..8: ((a, b, c), ...) for the terms c s2^a s3^b
_LGF3_SERIES = (
    ((0, 0, -1/16), (1, 0, 5/16),),
    ((0, 0, -23/128), (0, 1, 567/64), (1, 0, 21/8), (2, 0, -1155/128),),
    ((0, 0, -647/512), (0, 1, 104247/256), (1, 0, 20301/512), (1, 1, -405405/256),
     (2, 0, -178035/512), (3, 0, 425425/512),),
    ((0, 0, -144467/8192), (0, 1, 42415659/2048), (0, 2, -235702467/2048), (1, 0, 981563/1024),
     (1, 1, -190719243/1024), (2, 0, -63805599/4096), (2, 1, 916620705/2048),
     (3, 0, 22401665/256), (4, 0, -1301375075/8192),),
    ((0, 0, -13493243/32768), (0, 1, 10679073327/8192), (0, 2, -247294742877/8192),
     (1, 0, 1129323507/32768), (1, 1, -163921145661/8192), (1, 2, 948702429675/8192),
     (2, 0, -14635534719/16384), (2, 1, 883113125895/8192), (3, 0, 142170854735/16384),
     (3, 1, -1581170716125/8192), (4, 0, -1162871584875/32768), (5, 0, 1698294472875/32768),),
    ((0, 0, -3816541459/262144), (0, 1, 13450622357025/131072), (0, 2, -417103566775677/65536),
     (0, 3, 445700401461315/32768), (1, 0, 56943208245/32768), (1, 1, -77241161206323/32768),
     (1, 2, 435957104300445/8192), (2, 0, -17214079491573/262144), (2, 1, 1385485151655915/65536),
     (2, 2, -7675951358500425/65536), (3, 0, 31590492077535/32768),
     (3, 1, -2721977858424825/32768), (4, 0, -1725430700064825/262144),
     (4, 1, 15636197211760125/131072), (5, 0, 172983422737125/8192),
     (6, 0, -6756381511254375/262144),),
    ((0, 0, -763240141771/1048576), (0, 1, 5247042691828401/524288),
     (0, 2, -351976101100483095/262144), (0, 3, 1391899200496078365/131072),
     (1, 0, 123141482451413/1048576), (1, 1, -167158278289089315/524288),
     (1, 2, 4780884542193343035/262144), (1, 3, -5319434291440794525/131072),
     (2, 0, -6384637981273725/1048576), (2, 1, 1099420912597214565/262144),
     (2, 2, -22659042888799992675/262144), (3, 0, 130980447129375555/1048576),
     (3, 1, -7060538123952321375/262144), (3, 2, 36447975700612851375/262144),
     (4, 0, -1313387411263320225/1048576), (4, 1, 43831735495055132625/524288),
     (5, 0, 6886789165230492375/1048576), (5, 1, -52647076011996340875/524288),
     (6, 0, -18163276936441011375/1048576), (7, 0, 19034657111921075625/1048576),),
    ((0, 0, -1642984171122947/33554432), (0, 1, 5001462683564681331/4194304),
     (0, 2, -1272072075543199558305/4194304), (0, 3, 6106515134966949208275/1048576),
     (0, 4, -13816698628588319699235/2097152), (1, 0, 21526774448455197/2097152),
     (1, 1, -105060821694805515645/2097152), (1, 2, 3101317649463663886725/524288),
     (1, 3, -24802440382979999554815/524288), (2, 0, -5862317547243866535/8388608),
     (2, 1, 3771353658440955633075/4194304), (2, 2, -94524004939093860746385/2097152),
     (2, 3, 104904563661503908827525/1048576), (3, 0, 19938947458063481475/1048576),
     (3, 1, -8741492151061523955255/1048576), (3, 2, 20271038703746300194725/131072),
     (4, 0, -4366700100670563854505/16777216), (4, 1, 175026010284556456565925/4194304),
     (4, 2, -835351155082345940663625/4194304), (5, 0, 4129607805778294356825/2097152),
     (5, 1, -224658444029159687171625/2097152), (6, 0, -70206200510133797484375/8388608),
     (6, 1, 464083975045747744813125/4194304), (7, 0, 2455470767437818755625/131072),
     (8, 0, -577035630347887407571875/33554432),),
)
# Q_t(s2) of the 2D series, t = 1..8: coefficients of s2^0, s2^1, ...
_LGF2_SERIES = (
    (-1/24, 1/3,),
    (-43/480, 59/30, -20/3,),
    (-949/2016, 347/14, -4532/21, 4480/9,),
    (-21727/3840, 32051/60, -129301/15, 140480/3, -246400/3,),
    (-501451/4224, 9349429/528, -14993756/33, 140900576/33, -50673920/3, 71751680/3,),
    (-8112267073/2096640, 12197406449/14560, -85277819173/2730, 1816922822992/4095,
     -20529312960/7, 27393766400/3, -97582284800/9,),
    (-277899049/1536, 2575441891/48, -16426771715/6, 54356517096, -528139017792, 8070152130560/3,
     -20723689226240/3, 21189296128000/3,),
    (-24000232182239/2088960, 36496955784307/8160, -40679459166569/136, 669909588942076/85,
     -8893337125740152/85, 2308856311040000/3, -9562448137216000/3, 20899002771046400/3,
     -18763121721344000/3,),
)


def _dense(series, ndim):
    """Coefficient array ``c[t, a(, b)]`` of ``Q_t`` (row 0 unused) for the numba loops."""
    if ndim == 3:
        c = np.zeros((len(series) + 1, len(series) + 1, len(series) // 2 + 1))
        for t, terms in enumerate(series, 1):
            for a, b, v in terms:
                c[t, a, b] = v
    else:
        c = np.zeros((len(series) + 1, len(series) + 1))
        for t, terms in enumerate(series, 1):
            c[t, :len(terms)] = terms
    return c


def _reach(coef, ndim):
    """Radius beyond which term ``t`` is below ``2^-60`` of the leading term: ``max |Q_t|``
    over directions (sampled, with 25 % margin) against ``1/(4 pi r)`` in 3D, ``1/(2 pi)``
    in 2D."""
    reach = np.full(coef.shape[0], np.inf)
    if ndim == 3:
        n = 4000
        z = 1 - (np.arange(n) + 0.5) / n
        phi = np.pi * (3 - np.sqrt(5)) * np.arange(n)
        u = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], -1)
        u = np.concatenate([u, np.eye(3), [[1, 1, 0], [1, 1, 1]] / np.sqrt([[2], [3]])])
        u2 = u * u
        s2 = u2[:, 0] * u2[:, 1] + u2[:, 1] * u2[:, 2] + u2[:, 2] * u2[:, 0]
        s3 = u2.prod(1)
        for t in range(1, coef.shape[0]):
            qmax = 1.25 * np.abs(np.polynomial.polynomial.polyval2d(s2, s3, coef[t])).max()
            reach[t] = (4 * qmax * 2.0**60) ** (1 / (2 * t))
    else:
        theta = np.linspace(0, np.pi / 4, 1001)
        s2 = (np.cos(theta) * np.sin(theta)) ** 2
        for t in range(1, coef.shape[0]):
            qmax = 1.25 * np.abs(np.polynomial.polynomial.polyval(s2, coef[t])).max()
            reach[t] = (2 * qmax * 2.0**60) ** (1 / (2 * t))
    return reach


_COEF3 = _dense(_LGF3_SERIES, 3)
_COEF2 = _dense(_LGF2_SERIES, 2)
_REACH3 = _reach(_COEF3, 3)
_REACH2 = _reach(_COEF2, 2)
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


def _bessel_table(flat):
    """``ive(n, 2t)`` for every lag value ``n`` of ``flat`` (k, d) at the quadrature nodes,
    and the nodes."""
    nodes = _lgf_nodes()
    mmax = int(flat.max()) if flat.size else 0
    return sp.ive(np.arange(mmax + 1)[:, None], 2 * nodes[0][None, :]), nodes


def _end_correction(fb, p, du):
    """Euler-Maclaurin end terms ``-(du^2/12) f'(b) + (du^4/720) f^(3)(b)`` of the trapezoid
    rule in ``u`` truncated at ``u = b``, for an integrand ``f(u) ~ e^(-p u)`` there
    (``f(b) = fb``, ``f' = -p f``, ``f^(3) = -p^3 f``). Without them the quadrature is off by
    about 1e-15 (the ``du^4`` term, 3D) and 1e-11 (the ``du^2`` term, 2D at ``|m| = 32``)."""
    return (du * du / 12 * p - du**4 / 720 * p**3) * fb


def _quadrature3(flat):
    from ._octant import bessel_products3

    table, (t, w, T, du) = _bessel_table(flat)
    flat = np.ascontiguousarray(flat)
    integral, fb = np.empty(flat.shape[0]), np.empty(flat.shape[0])
    bessel_products3(flat, table, w, integral, fb)
    integral += _end_correction(fb * T, 0.5, du)  # f(u) = t prod ~ t^(-1/2) at the end
    m2 = (flat * flat).sum(axis=1)
    tail = (4 * np.pi) ** -1.5 * (2 * T**-0.5 - (4 * m2 - 3) / 16 * (2.0 / 3.0) * T**-1.5)
    head = np.where(m2 == 0, t[0], 0.0)  # int_0^{t0} 1 dt for m = 0; negligible otherwise
    return -(integral + tail + head)


def _quadrature2(flat):
    from ._octant import bessel_products2

    table, (t, w, T, du) = _bessel_table(flat)
    flat = np.ascontiguousarray(flat)
    integral, fb = np.empty(flat.shape[0]), np.empty(flat.shape[0])
    bessel_products2(flat, table, w, integral, fb)
    integral += _end_correction(fb * T, 1.0, du)  # f(u) = t diff ~ 1/t at the end
    m2 = (flat * flat).sum(axis=1)
    tail = m2 / (16 * np.pi * T)  # the integrand ~ |m|^2 / (16 pi t^2) for large t
    return integral + tail - (np.euler_gamma + 1.5 * np.log(2)) / (2 * np.pi)


def _hybrid(m, d, series_from, quadrature, series):
    m = np.abs(np.asarray(m, dtype=np.int64))
    if m.shape[-1:] != (d,):
        raise ValueError(f"lags must have shape (..., {d}), got {m.shape}")
    flat = m.reshape(-1, d)
    out = np.empty(flat.shape[0])
    far = (flat * flat).sum(axis=1) >= float(series_from) ** 2
    if far.any():
        out[far] = series(flat[far])
    if not far.all():
        out[~far] = quadrature(flat[~far])
    return out.reshape(m.shape[:-1])


def lgf3(m, series_from=SERIES_FROM):
    """7-point lattice Green's function ``G_L(m) = -int_0^inf prod_a e^{-2t} I_{m_a}(2t) dt``.

    ``m`` is an integer array (..., 3). Exact inverse of the unscaled 7-point Laplacian
    (``G_L(0) = -0.252731009858663``, ``G_L(1,0,0) = G_L(0) + 1/6``). Lags with
    ``|m| < series_from`` use a trapezoid rule in ``ln t`` plus the large-t tail
    ``2 (4 pi)^{-3/2} T^{-1/2}`` (with its first correction) and an Euler-Maclaurin end
    correction; the others the far-field series (:func:`lgf3_series`; module doc).
    ``series_from=inf``: the quadrature everywhere.
    """
    return _hybrid(m, 3, series_from, _quadrature3, lgf3_series)


def lgf2(m, h=1.0, series_from=SERIES_FROM):
    """5-point lattice Green's function ``G_L(m) = a(m) + (ln h - gamma - 1.5 ln 2)/(2 pi)``,
    ``a(m) = int_0^inf e^{-4t}[I_0(2t)^2 - I_{m1}(2t) I_{m2}(2t)] dt`` (so that
    ``G_L ~ ln(|m| h) / (2 pi)`` far away, as the continuous kernel). Quadrature for
    ``|m| < series_from``, far-field series (:func:`lgf2_series`) beyond."""
    return _hybrid(m, 2, series_from, _quadrature2, lgf2_series) + np.log(h) / (2 * np.pi)


def lgf3_series(m, terms=8):
    """Far-field series of the 7-point LGF (module doc) with ``terms`` corrections (0..8)
    at lags ``m`` (..., 3), ``m != 0``; all of them are summed (no cut-off by size)."""
    from ._octant import lgf3_points

    m = np.abs(np.asarray(m, dtype=np.int64))
    flat = np.ascontiguousarray(m.reshape(-1, 3))
    out = np.empty(flat.shape[0])
    lgf3_points(flat, _COEF3[:terms + 1], np.full(terms + 1, np.inf), out)
    return out.reshape(m.shape[:-1])


def lgf2_series(m, terms=8):
    """Far-field series of the 5-point LGF (``h = 1``; module doc) with ``terms`` corrections
    (0..8) at lags ``m`` (..., 2), ``m != 0``."""
    from ._octant import lgf2_points

    m = np.abs(np.asarray(m, dtype=np.int64))
    flat = np.ascontiguousarray(m.reshape(-1, 2))
    out = np.empty(flat.shape[0])
    lgf2_points(flat, _COEF2[:terms + 1], np.full(terms + 1, np.inf), out)
    return out.reshape(m.shape[:-1])


@lru_cache(maxsize=2)
def _near(d):
    """Quadrature values on the cube ``0 <= m_a < SERIES_FROM`` (entries with
    ``|m| < SERIES_FROM``), computed once per sorted lag (``G_L`` is symmetric under axis
    permutations) and copied to the permutations."""
    R = SERIES_FROM
    m = np.indices((R,) * d).reshape(d, -1)
    keep = ((m * m).sum(axis=0) < R * R) & np.all(m[:-1] <= m[1:], axis=0)
    m = m[:, keep]
    values = (_quadrature3 if d == 3 else _quadrature2)(m.T)
    out = np.zeros((R,) * d)
    for perm in itertools.permutations(range(d)):
        out[tuple(m[list(perm)])] = values
    out.setflags(write=False)
    return out


def _lgf_octant(counts):
    """G_L (3-D or 2-D by ``len(counts)``, ``h = 1``) on the octant ``m_a = 0..counts_a``:
    the cached quadrature cube near the origin, the far-field series elsewhere."""
    from ._octant import lgf2_octant, lgf3_octant

    out = np.empty(tuple(n + 1 for n in counts))
    if len(counts) == 3:
        lgf3_octant(_near(3), _COEF3, _REACH3, out)
    else:
        lgf2_octant(_near(2), _COEF2, _REACH2, out)
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
        if nd == 1:
            return h * h * np.arange(counts[0] + 1, dtype=np.float64) / 2
        out = _lgf_octant(tuple(counts))
        if nd == 2:
            out += np.log(h) / (2 * np.pi)
        out *= h * h
        return out


register("free", "lgf", LGFKernel)
