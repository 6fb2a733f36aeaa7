"""The global transpose of the distributed free-space solver: from slabs of axis 0 (the real
layout, whole last axis) to blocks of the last axis (axis 0 whole) and back, one ``Alltoallw``
with MPI subarray datatypes each way (no packing copies; mpi4py-fft's ``Transfer`` does the same
between its pencils)."""
from __future__ import annotations

import numpy as np

__all__ = ["Transpose", "split"]


def split(n, parts):
    """``(starts, counts)`` of ``n`` items over ``parts`` ranks, the lower ranks one larger (the
    rule of :class:`~fieldsolve.parallel.Decomposition` and of mpi4py-fft)."""
    counts = [n // parts + (1 if r < n % parts else 0) for r in range(parts)]
    return [sum(counts[:r]) for r in range(parts)], counts


class Transpose:
    """Between ``A`` (``a_shape``: this rank's ``rows`` planes of axis 0, the last axis whole)
    and the corner of ``B`` (``b_shape``: axis 0 whole, i.e. its first ``sum(rows counts)``
    planes, the middle axes' first ``a_shape[1:-1]`` entries, the last axis split by ``cols``).
    Both C-contiguous of ``dtype``; ``rows``/``cols`` are ``(starts, counts)`` per rank. The
    datatypes (one per peer and side) live as long as the object."""

    def __init__(self, comm, dtype, a_shape, b_shape, rows, cols):
        from mpi4py import MPI
        from mpi4py.util.dtlib import from_numpy_dtype

        self._finalized = MPI.Is_finalized  # kept: __del__ may run while the interpreter shuts down
        base = from_numpy_dtype(np.dtype(dtype))
        nd = len(a_shape)
        self.comm = comm
        self.a_types = [base.Create_subarray(list(a_shape), list(a_shape[:-1]) + [c], [0] * (nd - 1) + [s]).Commit()
                        for s, c in zip(*cols)]
        self.b_types = [base.Create_subarray(list(b_shape), [c] + list(a_shape[1:-1]) + [b_shape[-1]],
                                             [s] + [0] * (nd - 1)).Commit()
                        for s, c in zip(*rows)]
        self.counts_displs = ([1] * comm.Get_size(), [0] * comm.Get_size())

    def __del__(self):
        if not self._finalized():  # a solver dropped before the end: its datatypes with it
            for t in self.a_types + self.b_types:
                t.Free()

    def forward(self, A, B):
        """``A`` -> the corner of ``B``."""
        self.comm.Alltoallw([A, self.counts_displs, self.a_types], [B, self.counts_displs, self.b_types])

    def backward(self, B, A):
        """The corner of ``B`` -> ``A``."""
        self.comm.Alltoallw([B, self.counts_displs, self.b_types], [A, self.counts_displs, self.a_types])
