"""Octant evaluation of the free-space kernels (:mod:`.free`, :mod:`.lattice`): numba loops
and their NumPy-level drivers (radial kernels, cell integrals), and the spectrum of the padded
kernel straight from its octant.

An octant is the array of lags ``m = (i, j, k) >= 0``, shape ``(n0 + 1, n1 + 1, n2 + 1)`` (2-D
for the 5-point LGF). Every entry is computed independently, so the results do not depend on
the thread count.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.fft
from numba import njit, prange

from .._threads import get_num_threads
from .green import _lag_radius

_JIT = dict(cache=True, nogil=True)


@njit(parallel=True, **_JIT)
def radial_gather(table, out, i0=0):
    """``out[i, j, k] = table[(i0 + i)^2 + j^2 + k^2]``: a radial kernel evaluated once per
    distinct integer ``|m|^2`` (about ``3 N^2`` values instead of ``N^3``), then gathered."""
    n0, n1, n2 = out.shape
    for i in prange(n0):
        for j in range(n1):
            b = (i0 + i) * (i0 + i) + j * j
            for k in range(n2):
                out[i, j, k] = table[b + k * k]


@njit(parallel=True, **_JIT)
def radial_rows(table, s, out):
    """``out[u, l] = table[s[u] + l*l]``: the lines of a radial sample grid that share
    ``s = i^2 + j^2``."""
    for u in prange(out.shape[0]):
        b = s[u]
        for k in range(out.shape[1]):
            out[u, k] = table[b + k * k]


@njit(**_JIT)
def _f3(x, y, z):
    """Antiderivative of ``1/r``: ``d^3 F / dx dy dz = 1 / sqrt(x^2 + y^2 + z^2)``."""
    r = math.sqrt(x * x + y * y + z * z)
    return (x * y * math.log(z + r) + y * z * math.log(x + r) + z * x * math.log(y + r)
            - 0.5 * x * x * math.atan(y * z / (x * r)) - 0.5 * y * y * math.atan(z * x / (y * r))
            - 0.5 * z * z * math.atan(x * y / (z * r)))


@njit(parallel=True, **_JIT)
def f3_corners(x, y, z, F):
    """``F[i, j, k] = F3(x_i, y_j, z_k)`` on the grid of cell corners."""
    for i in prange(x.size):
        for j in range(y.size):
            for k in range(z.size):
                F[i, j, k] = _f3(x[i], y[j], z[k])


@njit(**_JIT)
def _put(F, i, j, k, v):
    if i < F.shape[0] and j < F.shape[1] and k < F.shape[2]:
        F[i, j, k] = v


@njit(parallel=True, **_JIT)
def f3_corners_symmetric(x, F):
    """As :func:`f3_corners` with one coordinate array ``x`` shared by all axes (equal
    spacing; ``F`` may be shorter than ``x`` on any axis): ``F3`` is symmetric under
    permutations of its arguments, so it is evaluated on sorted triples only (1/6 of the
    work) and copied to the permutations that fall inside ``F``."""
    n = max(F.shape)
    # interleave short and long rows so that the static split of prange balances the
    # triangular work: row t handles a = t // 2 or n - 1 - t // 2
    for t in prange(n):
        a = t // 2 if t % 2 == 0 else n - 1 - t // 2
        for b in range(a, n):
            for c in range(b, n):
                v = _f3(x[a], x[b], x[c])
                _put(F, a, b, c, v)
                _put(F, a, c, b, v)
                _put(F, b, a, c, v)
                _put(F, b, c, a, v)
                _put(F, c, a, b, v)
                _put(F, c, b, a, v)


@njit(parallel=True, **_JIT)
def corner_difference3(F, scale, out):
    """``out[m] = scale * sum_c (-1)^(3 - |c|) F[m + c]`` over the 8 corners ``c`` of cell
    ``m``: the cell integral by inclusion-exclusion (corners in ``np.ndindex`` order)."""
    n0, n1, n2 = out.shape
    for i in prange(n0):
        for j in range(n1):
            for k in range(n2):
                t = 0.0
                t = t - F[i, j, k]
                t = t + F[i, j, k + 1]
                t = t + F[i, j + 1, k]
                t = t - F[i, j + 1, k + 1]
                t = t + F[i + 1, j, k]
                t = t - F[i + 1, j, k + 1]
                t = t - F[i + 1, j + 1, k]
                t = t + F[i + 1, j + 1, k + 1]
                out[i, j, k] = scale * t


@njit(**_JIT)
def _series3(i, j, k, coef, reach):
    """Far-field series of the 7-point LGF at lag ``(i, j, k) != 0`` (see :mod:`.lattice`):
    ``-1/(4 pi r) + (1/(pi r)) sum_t Q_t(s2, s3) x^t``, ``x = 1/r^2``, by Horner's rule in
    ``x`` (smallest terms first); terms beyond their ``reach`` (the radius past which they
    are below 2^-60 of the value) are skipped. ``Q_t`` has the monomials ``s2^a s3^b`` with
    ``2a + 3b <= 2t``."""
    i2, j2, k2 = float(i * i), float(j * j), float(k * k)
    r2 = i2 + j2 + k2
    r = math.sqrt(r2)
    s2 = (i2 * j2 + j2 * k2 + k2 * i2) / (r2 * r2)
    s3 = i2 * j2 * k2 / (r2 * r2 * r2)
    x = 1.0 / r2
    acc = 0.0
    for t in range(coef.shape[0] - 1, 0, -1):
        if r < reach[t]:
            q = 0.0
            for b in range(t // 2, -1, -1):
                p = 0.0
                for a in range((2 * t - 3 * b) // 2, -1, -1):
                    p = p * s2 + coef[t, a, b]
                q = q * s3 + p
            acc += q
        acc *= x
    return (acc / math.pi - 0.25 / math.pi) / r


@njit(parallel=True, **_JIT)
def bessel_products3(m, table, w, out, last):
    """``out[p] = sum_n w_n prod_a table[m_pa, n]`` (the trapezoid sum of the 3D LGF
    integrand) and ``last[p]`` its final integrand value."""
    for p in prange(m.shape[0]):
        ta, tb, tc = table[m[p, 0]], table[m[p, 1]], table[m[p, 2]]
        s = 0.0
        for n in range(w.size):
            s += w[n] * (ta[n] * tb[n] * tc[n])
        out[p] = s
        last[p] = ta[-1] * tb[-1] * tc[-1]


@njit(parallel=True, **_JIT)
def bessel_products2(m, table, w, out, last):
    """``out[p] = sum_n w_n (table[0, n]^2 - table[m_p0, n] table[m_p1, n])`` (the trapezoid
    sum of the 2D LGF integrand) and ``last[p]`` its final integrand value."""
    for p in prange(m.shape[0]):
        t0, ta, tb = table[0], table[m[p, 0]], table[m[p, 1]]
        s = 0.0
        for n in range(w.size):
            s += w[n] * (t0[n] * t0[n] - ta[n] * tb[n])
        out[p] = s
        last[p] = t0[-1] * t0[-1] - ta[-1] * tb[-1]


@njit(parallel=True, **_JIT)
def lgf3_octant(near, coef, reach, out):
    """7-point LGF on the octant: ``near[i, j, k]`` (quadrature, a cube of side ``R``) where
    ``|m| < R``, the far-field series elsewhere."""
    R = near.shape[0]
    n0, n1, n2 = out.shape
    for i in prange(n0):
        for j in range(n1):
            for k in range(n2):
                if i * i + j * j + k * k < R * R:
                    out[i, j, k] = near[i, j, k]
                else:
                    out[i, j, k] = _series3(i, j, k, coef, reach)


@njit(parallel=True, **_JIT)
def lgf3_points(m, coef, reach, out):
    """:func:`_series3` at the lags ``m`` (n, 3)."""
    for p in prange(m.shape[0]):
        out[p] = _series3(m[p, 0], m[p, 1], m[p, 2], coef, reach)


@njit(**_JIT)
def _series2(i, j, coef, reach):
    """Far-field series of the 5-point LGF (``h = 1``) at lag ``(i, j) != 0``:
    ``ln(r)/(2 pi) + (1/pi) sum_t Q_t(s2) x^t``, ``x = 1/r^2``, ``s2 = i^2 j^2 / r^4`` (Horner
    in ``x``, terms beyond their ``reach`` skipped; ``Q_t`` has degree ``t``)."""
    i2, j2 = float(i * i), float(j * j)
    r2 = i2 + j2
    s2 = i2 * j2 / (r2 * r2)
    r = math.sqrt(r2)
    x = 1.0 / r2
    acc = 0.0
    for t in range(coef.shape[0] - 1, 0, -1):
        if r < reach[t]:
            p = 0.0
            for a in range(t, -1, -1):
                p = p * s2 + coef[t, a]
            acc += p
        acc *= x
    return acc / math.pi + math.log(r) / (2.0 * math.pi)


@njit(parallel=True, **_JIT)
def lgf2_octant(near, coef, reach, out):
    """5-point LGF on the octant: ``near`` where ``|m| < R``, the series elsewhere."""
    R = near.shape[0]
    n0, n1 = out.shape
    for i in prange(n0):
        for j in range(n1):
            if i * i + j * j < R * R:
                out[i, j] = near[i, j]
            else:
                out[i, j] = _series2(i, j, coef, reach)


@njit(parallel=True, **_JIT)
def lgf2_points(m, coef, reach, out):
    """:func:`_series2` at the lags ``m`` (n, 2)."""
    for p in prange(m.shape[0]):
        out[p] = _series2(m[p, 0], m[p, 1], coef, reach)


def radial_octant(fn, spacing, counts):
    """``fn(r)`` (vectorised, physical ``r``; ``r = 0`` included) on the octant lags.

    3D with equal spacing: ``fn`` is evaluated once per distinct integer ``|m|^2`` (``3 N^2``
    values instead of ``N^3``: special functions dominate the set-up otherwise) and gathered
    (:func:`radial_gather`). Else on every lag."""
    h = spacing[0]
    shape = tuple(n + 1 for n in counts)
    qmax = sum(n * n for n in counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        if len(counts) != 3 or len(set(spacing)) > 1 or qmax >= math.prod(shape):
            return np.asarray(fn(_lag_radius(spacing, counts)), dtype=np.float64)
        table = np.asarray(fn(h * np.sqrt(np.arange(qmax + 1, dtype=np.float64))), np.float64)
    out = np.empty(shape)
    radial_gather(table, out)
    return out


# cell integrals of the kernels (antiderivatives F with d^d F / dx1..dxd = G) ----------------
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


def cell_integral(spacing, counts, geometry):
    """``int_{cell m} G d^dx`` on the octant by inclusion-exclusion over the 2^d corners.

    ``F`` is evaluated once on the ``(N+2)^d`` grid of cell corners ``(j - 1/2) h`` (each
    corner is shared by 2^d cells); 3D volume kernels in numba, on sorted triples only when
    the spacing is equal (``F3`` is symmetric in its arguments)."""
    nd = len(spacing)
    corners = [(np.arange(n + 2, dtype=np.float64) - 0.5) * h for h, n in zip(spacing, counts)]
    if nd == 3 and geometry == "volume":
        F = np.empty(tuple(c.size for c in corners))
        if len(set(spacing)) == 1:
            f3_corners_symmetric(max(corners, key=len), F)
        else:
            f3_corners(*corners, F)
        out = np.empty(tuple(n + 1 for n in counts))
        corner_difference3(F, -1.0 / (4 * np.pi), out)
        return out
    if geometry == "thin_disc":
        F, scale = _F2inv, -1.0 / (4 * np.pi)
    elif nd == 2:
        F, scale = _F2log, 1.0 / (2 * np.pi)
    else:
        F, scale = _F1, 1.0
    values = F(*np.meshgrid(*corners, indexing="ij", sparse=True))
    total = 0.0
    for corner in np.ndindex(*(2,) * nd):
        sign = (-1) ** (nd - sum(corner))
        total = total + sign * values[tuple(slice(c, c + n + 1) for c, n in zip(corner, counts))]
    return scale * total


def octant_transfer(octant, half=False):
    """Real spectrum (rfft layout) of the ``2N``-padded even kernel, straight from its octant.

    The padded kernel holds ``K[|lag|]`` for lags ``-N+1..N`` (with ``K[N]`` at index ``N``),
    so its DFT is ``S[k] = K[0] + (-1)^k K[N] + 2 sum_{m=1}^{N-1} K[m] cos(pi k m / N)``, the
    DCT-I of the ``N + 1`` octant values, on every axis; ``S[2N - k] = S[k]`` fills the rest
    of the non-halved axes. So the spectrum costs one DCT-I of ``(N+1)^d`` reals and a mirror
    copy instead of an FFT of the ``(2N)^d`` padded array (no padded temporaries). Equal to
    ``padded_transfer(pad_kernel(octant, 2N))`` (:mod:`.free`) to rounding (tested).
    ``half=True`` returns the DCT-I alone: the spectrum's values for the non-negative lags.
    """
    dct = scipy.fft.dctn(np.asarray(octant, dtype=np.float64), type=1, workers=get_num_threads())
    if half:  # the even half, fieldsolve.fft.mirrored_shape: the DCT-I itself
        return dct
    n = [m - 1 for m in dct.shape[:-1]]
    out = np.empty(tuple(2 * m for m in n) + dct.shape[-1:])
    # copy every block from dct (a source that is not `out` spares numpy an overlap copy)
    for hi in itertools.product((False, True), repeat=len(n)):
        dst = tuple(slice(m + 1, 2 * m) if h else slice(0, m + 1) for m, h in zip(n, hi))
        src = tuple(slice(m - 1, 0, -1) if h else slice(None) for m, h in zip(n, hi))
        out[dst] = dct[src]
    return out
