"""Distributed runs over MPI (``mpiexec -n P fieldsolve run cfg.yaml``): a grid split into slabs
of planes (:class:`Decomposition`), distributed FFTs, particle exchange and the distributed
versions of deposit, readout and the solvers. Serial use is one rank: the same code path, and
mpi4py is never imported. See ``docs/parallel.md``.

The solvers take a :class:`Decomposition` where they take a grid, and this rank's slabs where
they take fields: ``PoissonSolver(decomposition, ...)`` (a
:class:`~fieldsolve.parallel.poisson.DistributedPoissonSolver`), ``ParticleMesh(decomposition)``,
``power_spectrum``, the LES filters, stresses and spectra, ``apriori`` and
``synthetic_turbulence``; reductions (spectra, averages) come back whole on every rank."""
from . import dfft, mpi
from .layout import Decomposition, GridBlock, as_decomposition

__all__ = ["Decomposition", "GridBlock", "as_decomposition", "dfft", "mpi"]
