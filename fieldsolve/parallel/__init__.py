"""Distributed runs over MPI (``mpiexec -n P fieldsolve run cfg.yaml``): a grid split into slabs
of planes (:class:`Decomposition`), distributed FFTs, particle exchange and the distributed
versions of deposit, readout and the solvers. Serial use is one rank: the same code path, and
mpi4py is never imported. See ``docs/parallel.md``."""
from . import dfft, mpi
from .layout import Decomposition, GridBlock

__all__ = ["Decomposition", "GridBlock", "dfft", "mpi"]
