"""``les`` runs: a-priori LES analysis of a velocity field (synthetic or from a file) with a
grid filter and an optional test filter.

Distributed (``comm`` with several ranks): each rank holds its slab of axis-0 planes
(:class:`~fieldsolve.parallel.Decomposition`) of the velocity and of every field of
:func:`fieldsolve.apriori` (filtered velocity, stress, strain rate, dissipation, SGS energy);
the spectra, volume averages and the dynamic coefficient are global (sums over the ranks). A
synthetic velocity is drawn per slab (the same field as serial for any number of ranks, to
rounding); an HDF5 velocity is read whole on every rank before the run (preflight), then sliced.
Whole on rank 0 only: the output meshes while they are written."""
from __future__ import annotations

import json
import time as _time

import numpy as np

from .. import openpmd
from ..config import ConfigError
from .rundir import RunResult, log
from .snapshot import decompose, input_slab, write_snapshot

__all__ = ["run_les"]


def _les_velocity(cfg, d, inputs):
    """This rank's slab ``(ndim, *local_shape)`` of the velocity (the whole field serially)."""
    v = cfg.velocity
    if v.kind == "synthetic":
        from ..turbulence import synthetic_turbulence

        ss = np.random.SeedSequence(cfg.seed)
        return synthetic_turbulence(d if d.split else d.grid, spectrum=v.spectrum, k_peak=v.k_peak,
                                    u_rms=v.u_rms, seed=ss.spawn(1)[0])
    return input_slab(d, cfg, inputs, "velocity")


def run_les(cfg, out, prov, inputs, comm=None):
    """One a-priori analysis (serial, or distributed over ``comm``: module doc).
    ``RunResult.final`` is the same on every rank; ``RunResult.state`` holds this rank's slab of
    the ``velocity`` and its :class:`~fieldsolve.les.AprioriResult` (``apriori``: slabs of the
    fields, global spectra and averages), the whole fields on one rank."""
    from ..les import apriori

    t0 = _time.perf_counter()
    grid = cfg.grid.make()
    d = decompose(grid, comm)
    u = _les_velocity(cfg, d, inputs)
    try:
        res = apriori(d if d.split else grid, u, filter=cfg.filter.make_args(grid),
                      test_filter=cfg.test_filter.make_args(grid) if cfg.test_filter else None)
    except ValueError as exc:
        raise ConfigError(f"filter: {exc}") from None
    nd = grid.ndim
    UD = openpmd.UNIT_DIMENSION
    meshes = {}
    if "velocity" in cfg.output.fields:
        meshes["u"] = {"data": u, "unit_dimension": UD["velocity"]}
    if "filtered_velocity" in cfg.output.fields:
        meshes["ubar"] = {"data": res.ubar, "unit_dimension": UD["velocity"]}
    if "dissipation" in cfg.output.fields:
        meshes["Pi"] = {"data": res.dissipation, "unit_dimension": (2, 0, -3, 0, 0, 0, 0)}
    if "sgs_energy" in cfg.output.fields:
        meshes["k_sgs"] = {"data": res.sgs_energy, "unit_dimension": UD["grav_potential"]}
    if "stress" in cfg.output.fields:
        labels = "xyz"[:nd]
        pairs = [(i, j) for i in range(nd) for j in range(i, nd)]
        meshes["tau"] = {"data": np.stack([res.tau[i, j] for i, j in pairs]), "unit_dimension": UD["grav_potential"],
                         "components": [labels[i] + labels[j] for i, j in pairs]}
    filters = {name: np.bytes_(json.dumps(meta, default=str).encode())
               for name, meta in (("filter", res.filter), ("test_filter", res.test_filter)) if meta}
    summary = res.summary()
    final = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float, np.floating))}
    log.info("a-priori LES: %s", ", ".join(f"{k} = {v:.6g}" for k, v in final.items()))
    snap, final, plots = write_snapshot(
        d, cfg, out, prov, meshes, summary, final, t0, extras_root=True,
        extras={"spectra": {"k": res.k, "E": res.E, "E_filtered": res.E_filtered,
                            "@binning": "shell_sum: sum(E) dk = <u.u>/2, u_k = DFT/N"}, "filters": filters})
    r = RunResult(run_dir=out, config=cfg, kind="les", snapshots=[snap], plots=plots, final=final)
    r.state = {"velocity": u, "apriori": res}
    return r
