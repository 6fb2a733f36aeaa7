"""``les`` runs: a-priori LES analysis of a velocity field (synthetic or from a file) with a
grid filter and an optional test filter."""
from __future__ import annotations

import json
import time as _time

import numpy as np

from .. import files, openpmd
from ..config import ConfigError, config_hash, dump_config
from .rundir import RunResult, _plots, log

__all__ = ["run_les"]


def _les_velocity(cfg, grid, inputs):
    v = cfg.velocity
    if v.kind == "synthetic":
        from ..turbulence import synthetic_turbulence

        ss = np.random.SeedSequence(cfg.seed)
        return synthetic_turbulence(grid, spectrum=v.spectrum, k_peak=v.k_peak, u_rms=v.u_rms, seed=ss.spawn(1)[0])
    return inputs["velocity"]  # read and checked before the run started (fieldsolve.inputs)


def run_les(cfg, out, prov, inputs, comm=None):
    from ..les import apriori

    t0 = _time.perf_counter()
    grid = cfg.grid.make()
    u = _les_velocity(cfg, grid, inputs)
    try:
        res = apriori(grid, u, filter=cfg.filter.make_args(grid),
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
    fields_dir = out / "diags" / "fields"
    filters = {name: np.bytes_(json.dumps(meta, default=str).encode())
               for name, meta in (("filter", res.filter), ("test_filter", res.test_filter)) if meta}
    snap = openpmd.write_iteration(fields_dir, 0, time=0.0, dt=0.0, grid=grid, meshes=meshes, dtype=cfg.output.dtype,
                               config_yaml=dump_config(cfg), provenance_json=json.dumps(prov, sort_keys=True),
                               config_sha=config_hash(cfg), software_version=prov["fieldsolve_version"],
                               extras={"spectra": {"k": res.k, "E": res.E, "E_filtered": res.E_filtered,
                                                   "@binning": "shell_sum: sum(E) dk = <u.u>/2, u_k = DFT/N"},
                                       "filters": filters}, extras_root=True)
    openpmd.write_pmd_index(fields_dir)
    summary = res.summary()
    final = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float, np.floating))}
    files.atomic_write_text(out / "result.json", json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
    log.info("a-priori LES: %s", ", ".join(f"{k} = {v:.6g}" for k, v in final.items()))
    final["wall_seconds"] = _time.perf_counter() - t0
    plots = _plots(out, cfg.output.plots)
    r = RunResult(run_dir=out, config=cfg, kind="les", snapshots=[snap], plots=plots, final=final)
    r.state = {"velocity": u, "apriori": res}
    return r
