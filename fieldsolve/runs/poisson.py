"""``poisson`` runs: one solve of ``lap(phi) = 4 pi G rho`` (``rho - mean(rho)`` on periodic
grids) for a configured source, ``g = -grad(phi)``, in code units (``G`` from the config), with
the error against the analytic potential when it is known: ``phi_rel_l2_error =
|phi - phi_exact|_2 / |phi_exact|_2`` and ``phi_rel_linf_error`` (max norms) over every cell
(``phi_exact`` less its mean on periodic grids), ``field_rel_l2_error`` likewise for ``g``.

Distributed (``comm`` with several ranks, 2-D and 3-D grids): each rank holds its slab of axis-0
planes (:class:`~fieldsolve.parallel.Decomposition`) of ``rho``, ``phi``, ``g`` and the exact
potential; the solve, the gradient and the error norms are global (sums over the ranks). Whole on
every rank: an HDF5 source (read whole before the run, then sliced) and the free-space kernel's
even half (see :mod:`fieldsolve.parallel.poisson`); whole on rank 0 only: the output meshes while
they are written and the periodic lattice's exact potential (one FFT of the whole grid,
scattered). 1-D grids are replicated: every rank solves the whole mesh."""
from __future__ import annotations

import time as _time

import numpy as np

from .. import openpmd
from ..config import ConfigError
from ..parallel.collective import allmax, allmean, allnorm
from .rundir import RunResult, log
from .snapshot import decompose, input_slab, write_snapshot

__all__ = ["run_poisson", "source_model"]


def _points(decomposition):
    """Where a model is evaluated: the grid itself, or (split) the cell centres of this rank's
    slab as sparse coordinate arrays (the grid's own, so the values are the serial ones)."""
    if not decomposition.split:
        return decomposition.grid
    mesh = list(decomposition.grid.mesh(sparse=True))
    mesh[0] = mesh[0][decomposition.start:decomposition.stop]
    return tuple(mesh)


def _field(values, shape):
    return np.asarray(np.broadcast_to(values, shape), dtype=np.float64)


def source_model(cfg, grid, inputs=None, decomposition=None):
    """(density on the grid, analytic model or None) for the configured source; with a split
    ``decomposition`` of ``grid``, this rank's slab of the density (an analytic one evaluated on
    the slab only). An HDF5 source comes from ``inputs`` (read whole and checked before the run
    started) or is read now, then sliced."""
    from .. import analytic
    from ..parallel import Decomposition

    d = decomposition or Decomposition(grid)
    src = cfg.source
    if src.kind == "hdf5":
        return input_slab(d, cfg, inputs, "source"), None
    center = src.center or [o + b / 2 for o, b in zip(grid.origin, grid.box)]
    if src.kind == "gaussian":
        if grid.all_periodic and grid.ndim == 3:
            model = analytic.GaussianLattice(mass=src.mass, sigma=src.sigma, center=center, box=grid.box, G=cfg.G)
        elif not any(grid.periodic):
            model = analytic.Gaussian(mass=src.mass, sigma=src.sigma, center=center, ndim=grid.ndim, G=cfg.G)
        else:
            model = None
        if model is None or isinstance(model, analytic.GaussianLattice):
            dens = analytic.Gaussian(mass=src.mass, sigma=src.sigma, center=center, ndim=grid.ndim, G=cfg.G)
            rho = dens.density(_points(d))
        else:
            rho = model.density(_points(d))
        return _field(rho, d.local_shape), model
    model = analytic.Plummer(mass=src.mass, a=src.scale_radius, center=center, G=cfg.G)
    return _field(model.density(_points(d)), d.local_shape), (model if not any(grid.periodic) else None)


def _exact_potential(model, d):
    """This rank's slab of the model's potential; the periodic lattice's (an FFT of the whole
    grid) is computed on rank 0 and scattered."""
    from ..analytic import GaussianLattice

    if d.split and isinstance(model, GaussianLattice):
        return d.scatter(model.potential(d.grid) if d.rank == 0 else None)
    return _field(model.potential(_points(d)), d.local_shape)


def run_poisson(cfg, out, prov, inputs, comm=None):
    """One solve (serial, or distributed over ``comm``: module doc). ``RunResult.final`` is the
    same on every rank; ``RunResult.state`` holds this rank's slabs of ``density``,
    ``potential`` and ``field`` (``(ndim, *local_shape)``), the whole meshes on one rank."""
    from ..parallel.poisson import check_gradient
    from ..poisson import PoissonSolver, _default_method

    t0 = _time.perf_counter()
    grid = cfg.grid.make()
    d = decompose(grid, comm)
    try:
        solver = PoissonSolver(d if d.split else grid, cfg.solver.kernel, warn_mean=False)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"solver.kernel = {cfg.solver.kernel!r}: {exc}") from None
    try:  # a bounded axis 0 split too thinly for the FD stencil (the same on every rank)
        check_gradient(d, _default_method(grid, cfg.solver.gradient))
    except ValueError as exc:
        raise ConfigError(f"solver.gradient = {cfg.solver.gradient!r} on {d.size} MPI ranks: {exc}") from None
    rho, model = source_model(cfg, grid, inputs, d)
    f = 4 * np.pi * cfg.G * rho
    if grid.all_periodic:
        f = f - allmean(d, f)
    phi = solver.solve(f)
    g = -np.asarray(solver.gradient(phi, cfg.solver.gradient))
    final = {"kernel": solver.kernel_name, "solve_order": float(solver.order)}
    extras = {}
    if model is not None:
        exact = _exact_potential(model, d)
        if grid.all_periodic:
            exact = exact - allmean(d, exact)
        err = phi - exact
        final["phi_rel_l2_error"] = float(allnorm(d, err) / allnorm(d, exact))
        final["phi_rel_linf_error"] = float(allmax(d, np.abs(err).max()) / allmax(d, np.abs(exact).max()))
        extras = {"phi_exact": d.gather(exact), "phi_error": d.gather(err)}
        log.info("potential error vs analytic: relL2 %.3e, relLinf %.3e",
                 final["phi_rel_l2_error"], final["phi_rel_linf_error"])
        if hasattr(model, "acceleration"):  # the periodic lattice sum has a potential only
            acc = np.moveaxis(np.asarray(model.acceleration(_points(d))), -1, 0)
            acc = np.broadcast_to(acc, g.shape)
            final["field_rel_l2_error"] = float(allnorm(d, g - acc) / allnorm(d, acc))
            log.info("field error vs analytic: relL2 %.3e", final["field_rel_l2_error"])
    else:
        log.info("no analytic potential for this source/boundary combination; no error reported")
    meshes = {"rho": {"data": rho, "unit_dimension": openpmd.UNIT_DIMENSION["mass_density"], "unit_si": 1.0},
              "phi": {"data": phi, "unit_dimension": openpmd.UNIT_DIMENSION["grav_potential"], "unit_si": 1.0},
              "g": {"data": g, "unit_dimension": openpmd.UNIT_DIMENSION["acceleration"], "unit_si": 1.0}}
    keep = {"density": "rho", "potential": "phi", "field": "g"}
    meshes = {keep[k]: meshes[keep[k]] for k in cfg.output.fields}
    snap, final, plots = write_snapshot(d, cfg, out, prov, meshes, dict(final), final, t0, extras=extras)
    res = RunResult(run_dir=out, config=cfg, kind="poisson", steps=0, time=0.0, snapshots=[snap],
                    plots=plots, final=final)
    res.state = {"density": rho, "potential": phi, "field": g}
    return res
