"""``poisson`` runs: one solve of ``lap(phi) = 4 pi G rho`` for a configured source, with the
error against the analytic potential when it is known."""
from __future__ import annotations

import json
import time as _time

import numpy as np

from .. import files, openpmd
from ..config import ConfigError, config_hash, dump_config
from .rundir import RunResult, _plots, log

__all__ = ["run_poisson", "source_model"]


def source_model(cfg, grid, inputs=None):
    """(density on the grid, analytic model or None) for the configured source; an HDF5 source
    comes from ``inputs`` (read and checked before the run started) or is read now."""
    from .. import analytic

    src = cfg.source
    if src.kind == "hdf5":
        if inputs is None:
            from ..inputs import load_inputs

            inputs = load_inputs(cfg)
        return inputs["source"], None
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
            rho = dens.density(grid)
        else:
            rho = model.density(grid)
        return np.asarray(np.broadcast_to(rho, grid.shape), dtype=np.float64), model
    model = analytic.Plummer(mass=src.mass, a=src.scale_radius, center=center, G=cfg.G)
    rho = np.asarray(np.broadcast_to(model.density(grid), grid.shape), dtype=np.float64)
    return rho, (model if not any(grid.periodic) else None)


def run_poisson(cfg, out, prov, inputs, comm=None):
    from ..poisson import PoissonSolver

    t0 = _time.perf_counter()
    grid = cfg.grid.make()
    try:
        solver = PoissonSolver(grid, cfg.solver.kernel, warn_mean=False)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"solver.kernel = {cfg.solver.kernel!r}: {exc}") from None
    rho, model = source_model(cfg, grid, inputs)
    f = 4 * np.pi * cfg.G * rho
    if grid.all_periodic:
        f = f - f.mean()
    phi = solver.solve(f)
    g = -np.asarray(solver.gradient(phi, cfg.solver.gradient))
    final = {"kernel": solver.kernel_name, "solve_order": float(solver.order)}
    extras = {}
    if model is not None:
        exact = np.asarray(np.broadcast_to(model.potential(grid), grid.shape), dtype=np.float64)
        if grid.all_periodic:
            exact = exact - exact.mean()
        err = phi - exact
        final["phi_rel_l2_error"] = float(np.linalg.norm(err) / np.linalg.norm(exact))
        final["phi_rel_linf_error"] = float(np.abs(err).max() / np.abs(exact).max())
        extras = {"phi_exact": exact, "phi_error": err}
        log.info("potential error vs analytic: relL2 %.3e, relLinf %.3e",
                 final["phi_rel_l2_error"], final["phi_rel_linf_error"])
        if hasattr(model, "acceleration"):  # the periodic lattice sum has a potential only
            acc = np.moveaxis(np.asarray(model.acceleration(grid)), -1, 0)
            acc = np.broadcast_to(acc, g.shape)
            final["field_rel_l2_error"] = float(np.linalg.norm(g - acc) / np.linalg.norm(acc))
            log.info("field error vs analytic: relL2 %.3e", final["field_rel_l2_error"])
    else:
        log.info("no analytic potential for this source/boundary combination; no error reported")
    meshes = {"rho": {"data": rho, "unit_dimension": openpmd.UNIT_DIMENSION["mass_density"], "unit_si": 1.0},
              "phi": {"data": phi, "unit_dimension": openpmd.UNIT_DIMENSION["grav_potential"], "unit_si": 1.0},
              "g": {"data": g, "unit_dimension": openpmd.UNIT_DIMENSION["acceleration"], "unit_si": 1.0}}
    keep = {"density": "rho", "potential": "phi", "field": "g"}
    meshes = {keep[k]: meshes[keep[k]] for k in cfg.output.fields}
    fields_dir = out / "diags" / "fields"
    snap = openpmd.write_iteration(fields_dir, 0, time=0.0, dt=0.0, grid=grid, meshes=meshes, dtype=cfg.output.dtype,
                               config_yaml=dump_config(cfg), provenance_json=json.dumps(prov, sort_keys=True),
                               config_sha=config_hash(cfg), extras=extras,
                               software_version=prov["fieldsolve_version"])
    openpmd.write_pmd_index(fields_dir)
    scalars = {k: v for k, v in final.items() if isinstance(v, float)}
    files.atomic_write_text(out / "result.json", json.dumps({**final, **scalars}, indent=1, sort_keys=True) + "\n")
    final["wall_seconds"] = _time.perf_counter() - t0
    plots = _plots(out, cfg.output.plots)
    res = RunResult(run_dir=out, config=cfg, kind="poisson", steps=0, time=0.0, snapshots=[snap],
                    plots=plots, final=final)
    res.state = {"density": rho, "potential": phi, "field": g}
    return res
