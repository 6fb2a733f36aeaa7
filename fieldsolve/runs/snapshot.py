"""The output of the one-snapshot runs (``poisson``, ``les``), serial or distributed: the meshes
gathered to rank 0, which alone writes the openPMD iteration 0, ``fields.pmd``, ``result.json``
and the plots; its outcome (or its error) reaches every rank."""
from __future__ import annotations

import json
import time as _time

import numpy as np

from .. import files, openpmd
from ..config import ConfigError, config_hash, dump_config
from ..parallel import Decomposition, mpi
from ..parallel.collective import agreed
from .rundir import _plots

__all__ = ["decompose", "input_slab", "write_snapshot"]


def decompose(grid, comm):
    """``Decomposition(grid, comm)``; a grid that cannot be split over the ranks is an input error
    (raised on every rank alike: it depends on the global grid only)."""
    try:
        return Decomposition(grid, comm)
    except ValueError as exc:
        raise ConfigError(f"grid.shape = {list(grid.shape)}: {exc}") from None


def input_slab(decomposition, cfg, inputs, key):
    """This rank's slab (axis-0 planes after any component axes) of the input field
    ``inputs[key]``, read whole and checked before the run started (:mod:`fieldsolve.inputs`),
    or now when ``inputs`` is None; serially the array itself. A read error on any rank is a
    :class:`ConfigError` on every rank (the others' naming it), so none waits in a collective."""
    if inputs is None:
        from ..inputs import load_inputs

        try:
            inputs = agreed(decomposition, load_inputs, cfg)
        except ConfigError:
            raise
        except ValueError as exc:  # another rank's error
            raise ConfigError(str(exc)) from None
    a = inputs[key]
    if not decomposition.split:
        return a
    return np.ascontiguousarray(a[(slice(None),) * (a.ndim - decomposition.grid.ndim) + decomposition.local_slice])


def write_snapshot(decomposition, cfg, out, prov, meshes, summary, final, t0, **write):
    """Gather ``meshes`` (``{name: {"data": this rank's slab, ...}}``, see
    :func:`fieldsolve.openpmd.write_iteration`) to rank 0 and there write iteration 0 (``write``:
    more ``write_iteration`` arguments, e.g. ``extras`` already whole on rank 0), ``fields.pmd``,
    ``result.json`` (``summary``) and the plots; ``final["wall_seconds"]`` is the time since
    ``t0`` before the plots. Returns ``(snapshot, final, plots)``, rank 0's on every rank (the same
    scalars everywhere); an error on rank 0 is raised on every rank. Rank 0 holds every gathered
    mesh whole while it writes."""
    whole = {name: {**m, "data": decomposition.gather(m["data"])} for name, m in meshes.items()}

    def _write():
        fields_dir = out / "diags" / "fields"
        snap = openpmd.write_iteration(fields_dir, 0, time=0.0, dt=0.0, grid=decomposition.grid, meshes=whole,
                                       dtype=cfg.output.dtype, config_yaml=dump_config(cfg),
                                       provenance_json=json.dumps(prov, sort_keys=True), config_sha=config_hash(cfg),
                                       software_version=prov["fieldsolve_version"], **write)
        openpmd.write_pmd_index(fields_dir)
        files.atomic_write_text(out / "result.json", json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
        final["wall_seconds"] = _time.perf_counter() - t0
        return snap, final, _plots(out, cfg.output.plots)

    return mpi.on_root(decomposition.comm, _write)
