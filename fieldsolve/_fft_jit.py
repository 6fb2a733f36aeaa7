"""numba kernel behind :func:`fieldsolve.fft.multiply_real` (spectral multiplications)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def mul_real(x2, r):
    """``x2[q] *= r[q]`` for the (n, 2) real view of a complex array: no complex temporaries."""
    for q in prange(r.shape[0]):
        s = r[q]
        x2[q, 0] *= s
        x2[q, 1] *= s


@njit(parallel=True, cache=True, nogil=True)
def mul_mirrored(x, r, o0, o1, o2, P0, P1):
    """``x[i, j, k] *= r[min(I, P0 - I), min(J, P1 - J), K]`` for the (n0, n1, n2, 2) real view
    of a complex spectrum, a block at offset ``(o0, o1, o2)`` (``I = o0 + i``...) of the rfft
    layout with ``P0 x P1`` points on its first two axes, and a real transfer function stored for
    the non-negative lags of those two axes only (it is even there). The whole layout is the
    block at offset 0 with ``(P0, P1) = x.shape[:2]``."""
    n0, n1, n2 = x.shape[0], x.shape[1], x.shape[2]
    for i in prange(n0):
        ii = np.int64(i) + o0  # prange's index is unsigned: mixing it with a signed size gives floats
        if 2 * ii > P0:
            ii = P0 - ii
        for j in range(n1):
            jj = min(j + o1, P1 - j - o1)
            for k in range(n2):
                s = r[ii, jj, k + o2]
                x[i, j, k, 0] *= s
                x[i, j, k, 1] *= s
