"""Analytic densities and potentials for testing Poisson solvers.

Sign convention (same as :mod:`fieldsolve.poisson`): every potential satisfies

    lap(phi) = 4 pi G rho        (in 1D, 2D and 3D alike; ``G`` defaults to 1),

so ``PoissonSolver(grid).solve(4 * pi * G * model.density(grid))`` approximates
``model.potential(grid)``. A point mass has ``phi = -G M / r`` (3D), ``2 G M ln r`` (2D),
``2 pi G M |x|`` (1D). Razor-thin discs give the potential in their plane,
``phi = -G int Sigma(x') / |x - x'| d^2x'`` (``geometry="thin_disc"`` with
``f = 4 pi G Sigma``). Periodic models have zero-mean potentials (the ``k = 0`` mode dropped,
i.e. the potential of ``rho - mean(rho)``). Accelerations are ``-grad(phi)``, components last.

Coordinates: every method takes ``x`` as a :class:`~fieldsolve.Grid` (cell centres), a
tuple of coordinate arrays (e.g. ``grid.mesh()``), or an array of points ``(..., ndim)``.
"""
from .isolated import (CompactBump, Gaussian, GaussianDisc, Hernquist, KuzminDisc, Plummer, PointMass,
                       UniformSphere)
from .periodic import (EWALD_CONSTANT, EwaldPointMass, FourierMode, GaussianLattice, GaussianSlabMode,
                       ewald_acceleration, ewald_potential, long_range_acceleration)

__all__ = [
    "Gaussian", "PointMass", "UniformSphere", "Plummer", "Hernquist", "GaussianDisc",
    "KuzminDisc", "FourierMode", "GaussianLattice", "EwaldPointMass", "GaussianSlabMode",
    "CompactBump", "ewald_potential", "ewald_acceleration", "long_range_acceleration", "EWALD_CONSTANT",
]
