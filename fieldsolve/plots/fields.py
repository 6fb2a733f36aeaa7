"""Mesh plots: density and potential maps (projections for planar problems)."""
from __future__ import annotations

from .. import openpmd
from .base import _field_panel, _figure, _mesh_title, _needs, _plot, _time_text


def _first(src, name):
    """(data, meta) of the run's first snapshot (None for a single file)."""
    if src.run_dir is None:
        return None
    snaps = sorted((src.run_dir / "diags" / "fields").glob("fs_*.h5"))
    return openpmd.read_mesh(snaps[0], name) if len(snaps) > 1 else None


@_plot("density: profile (planar; with the first snapshot's), map (2-D) or column density along z "
       "(3-D, log colours)", _needs(meshes=("rho",)))
def density(src):
    data, meta = openpmd.read_mesh(src.snapshot, "rho")
    fig, (ax,) = _figure(1, 1, (5.6, 4.4))
    how = _field_panel(src, fig, ax, data, meta, "ρ", project=src.kind != "pic", log=True,
                       first=_first(src, "rho"))
    ax.set_title(f"{_mesh_title(src, 'rho')}, {_time_text(meta)}" + (f", {how}" if how else ""), fontsize=9)
    return fig


@_plot("potential: profile (planar; with the first snapshot's), map (2-D) or mid-plane slice (3-D)",
       _needs(meshes=("phi",)))
def potential(src):
    data, meta = openpmd.read_mesh(src.snapshot, "phi")
    fig, (ax,) = _figure(1, 1, (5.6, 4.4))
    how = _field_panel(src, fig, ax, data, meta, "φ", first=_first(src, "phi"))
    ax.set_title(f"{_mesh_title(src, 'phi')}, {_time_text(meta)}" + (f", {how}" if how else ""), fontsize=9)
    return fig
