"""numba kernel behind :func:`fieldsolve.fft.multiply_real` (spectral multiplications)."""
from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def mul_real(x2, r):
    """``x2[q] *= r[q]`` for the (n, 2) real view of a complex array: no complex temporaries."""
    for q in prange(r.shape[0]):
        s = r[q]
        x2[q, 0] *= s
        x2[q, 1] *= s
