"""numba kernel behind :func:`fieldsolve.power.power_spectrum`: one pass over the rfft layout
that squares, compensates, subtracts shot noise and bins (no mesh-sized temporaries)."""
from __future__ import annotations

import math

from numba import njit, prange


@njit(cache=True, nogil=True)
def _bisect(edges, x):
    """``b`` with ``edges[b] <= x < edges[b + 1]``, or -1 (``np.digitize(x, edges) - 1``)."""
    if x < edges[0] or x >= edges[-1]:
        return -1
    lo, hi = 0, edges.size - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if x >= edges[mid]:
            lo = mid
        else:
            hi = mid
    return lo


@njit(parallel=True, cache=True, nogil=True)
def binned_power(X, sq, div, alias, alt, nyq, weight, scale, zero_origin, mode, shot,
                 interlaced, lut, kq, edges, acc):
    """Accumulate ``acc[chunk] = (modes, sum w |k|, sum w P)`` per bin over the rfft layout.

    ``X`` is the spectrum as reals ``(n0, n1, n2, 2)``. Per axis ``a`` (rows of the
    ``(3, nmax)`` tables, indexed by the mode's index on that axis): ``sq`` the squared mode
    coordinate (integers in units of ``k_F`` when ``lut`` is used, else ``k_a^2``), ``div``
    the window divisor (``W_a^2``, or ``c_a`` for ``mode`` 2), ``alias``/``alt`` the alias and
    alternating alias sums, ``nyq`` 1 on a Nyquist index, ``weight`` (last axis) the Hermitian
    multiplicity. ``P = scale |X|^2`` (0 at ``k = 0`` if ``zero_origin``), divided by the
    window (``mode`` 1 or 2), minus the shot noise (``mode`` 1: ``shot C / W^2`` with ``C``
    the alias sum the deposit keeps; else ``shot``). Bin: ``lut[q]`` of the integer
    ``q = sum sq`` (``|k| = kq[q]``), or a search of ``|k|`` in ``edges`` when ``lut`` is
    empty. Rows of ``acc`` are fixed slabs of axis 0 summed in order: the result does not
    depend on the thread count."""
    n0, n1, n2 = X.shape[0], X.shape[1], X.shape[2]
    nchunk = acc.shape[0]
    use_lut = lut.size > 0
    for c in prange(nchunk):
        for i in range((c * n0) // nchunk, ((c + 1) * n0) // nchunk):
            for j in range(n1):
                q01 = sq[0, i] + sq[1, j]
                d01 = div[0, i] * div[1, j]
                c01 = alias[0, i] * alias[1, j]
                a01 = alt[0, i] * alt[1, j]
                ny01 = nyq[0, i] + nyq[1, j]
                for k in range(n2):
                    q = q01 + sq[2, k]
                    if use_lut:
                        iq = int(q)
                        b = lut[iq]
                        kmag = kq[iq]
                    else:
                        kmag = math.sqrt(q)
                        b = _bisect(edges, kmag)
                    if b < 0:
                        continue
                    re = X[i, j, k, 0]
                    im = X[i, j, k, 1]
                    p = (re * re + im * im) * scale
                    if zero_origin and i == 0 and j == 0 and k == 0:
                        p = 0.0
                    d = d01 * div[2, k]
                    if mode != 0:
                        p /= d
                    if shot != 0.0:
                        if mode == 1:
                            cc = c01 * alias[2, k]
                            if interlaced and ny01 + nyq[2, k] == 0:
                                cc = 0.5 * (cc + a01 * alt[2, k])
                            p -= shot * cc / d
                        else:
                            p -= shot
                    w = weight[2, k]
                    acc[c, 0, b] += w
                    acc[c, 1, b] += w * kmag
                    acc[c, 2, b] += w * p
