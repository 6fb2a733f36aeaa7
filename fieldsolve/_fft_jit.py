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
def mul_mirrored(x, r):
    """``x[i, j, k] *= r[min(i, P0 - i), min(j, P1 - j), k]`` for the (P0, P1, Q, 2) real view
    of a complex spectrum and a real transfer function stored for the non-negative lags of the
    first two axes only (it is even there)."""
    P0, P1, Q = x.shape[0], x.shape[1], x.shape[2]
    for i in prange(P0):
        ii = np.int64(i)  # prange's index is unsigned: mixing it with a signed size gives floats
        if 2 * ii > P0:
            ii = P0 - ii
        for j in range(P1):
            jj = min(j, P1 - j)
            for k in range(Q):
                s = r[ii, jj, k]
                x[i, j, k, 0] *= s
                x[i, j, k, 1] *= s
