"""Moving axis-0 planes between two slab layouts of one communicator (one ``Alltoallv``): the
free-space solver takes its source from the slabs of the ``N``-plane grid into those of the
``2N``-plane padded grid, and its potential back."""
from __future__ import annotations

import numpy as np

__all__ = ["move"]


def _overlap(a, b, c, d):
    """Length and start of ``[a, b) & [c, d)`` (length 0 when they do not meet)."""
    lo = max(a, c)
    return max(0, min(b, d) - lo), lo


def move(comm, local, src, dst, n):
    """Planes ``0 .. n-1`` of axis 0 moved from layout ``src`` to layout ``dst``.

    A layout is ``(starts, counts)`` per rank (:class:`~fieldsolve.parallel.Decomposition`'s).
    ``local`` holds this rank's ``src`` planes below ``n`` (planes at or above ``n`` are never
    sent); the result holds its ``dst`` planes below ``n``, shape ``(k, *local.shape[1:])``.
    Every rank's planes have the same shape. One plane is one MPI datatype, so the counts stay
    small for any plane size."""
    from mpi4py.util.dtlib import from_numpy_dtype

    r = comm.Get_rank()
    a, b = src[0][r], min(src[0][r] + src[1][r], n)
    c, d = dst[0][r], min(dst[0][r] + dst[1][r], n)
    send = [_overlap(a, b, s, s + k) for s, k in zip(*dst)]
    recv = [_overlap(c, d, s, min(s + k, n)) for s, k in zip(*src)]
    sendbuf = np.ascontiguousarray(local[:max(b - a, 0)])
    out = np.empty((max(d - c, 0),) + tuple(local.shape[1:]), local.dtype)
    plane = from_numpy_dtype(local.dtype).Create_contiguous(int(np.prod(local.shape[1:]))).Commit()
    try:
        comm.Alltoallv([sendbuf, ([k for k, _ in send], [lo - a if k else 0 for k, lo in send]), plane],
                       [out, ([k for k, _ in recv], [lo - c if k else 0 for k, lo in recv]), plane])
    finally:
        plane.Free()
    return out
