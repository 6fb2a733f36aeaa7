"""PNG plots of a run directory or snapshot (``fieldsolve plot``): energy and momentum vs time,
density projection, potential slice, phase space (PIC), spectra (LES). Non-interactive (Agg),
every PNG written atomically."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from . import io as fio

__all__ = ["make_plots"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _plt()
    path = Path(path)
    fig.tight_layout()
    with fio.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def _energy_plot(ts_path, out):
    plt = _plt()
    ts = fio.read_timeseries(ts_path)
    t = ts["time"]
    pot = "potential_energy" if "potential_energy" in ts else "field_energy"
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    ax.plot(t, ts["kinetic_energy"], label="kinetic")
    ax.plot(t, ts[pot], label=pot.replace("_", " "))
    ax.plot(t, ts["total_energy"], "k", label="total")
    ax.set_xlabel("t"), ax.set_ylabel("energy"), ax.legend(fontsize=8)
    e = ts["total_energy"]
    ax = axes[1]
    if e[0] != 0:
        ax.plot(t, (e - e[0]) / abs(e[0]))
        ax.set_ylabel("(E - E0) / |E0|")
    ax.set_xlabel("t")
    ax = axes[2]
    mom = np.atleast_2d(ts["momentum"].T).T
    for a in range(mom.shape[1]):
        ax.plot(t, mom[:, a], label="xyz"[a])
    ax.set_xlabel("t"), ax.set_ylabel("total momentum"), ax.legend(fontsize=8)
    paths = [_save(fig, out / "energy.png")]
    if "mode_energy" in ts:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        ax.semilogy(t, ts["mode_energy"], label="mode energy")
        ax.semilogy(t, ts["field_energy"], alpha=0.5, label="field energy")
        ax.set_xlabel("t"), ax.set_ylabel("energy"), ax.legend(fontsize=8)
        paths.append(_save(fig, out / "mode_energy.png"))
    return paths


def _field_plots(snap, out):
    plt = _plt()
    paths = []
    with h5py.File(snap, "r") as f:
        it = sorted(int(k) for k in f["data"].keys())[-1]
        g = f[f"data/{it}"]
        meshes = list(g["meshes"].keys()) if "meshes" in g else []
        species = list(g["particles"].keys()) if "particles" in g else []
        t = float(g.attrs["time"])
    for name, title in (("rho", "density"), ("phi", "potential")):
        if name not in meshes:
            continue
        data, meta = fio.read_mesh(snap, name)
        nd = data.ndim
        fig, ax = plt.subplots(figsize=(5, 4))
        lo = meta["offset"]
        hi = lo + meta["spacing"] * np.array(data.shape)
        if nd == 1:
            x = lo[0] + (np.arange(data.shape[0]) + 0.5) * meta["spacing"][0]
            ax.plot(x, data)
            ax.set_xlabel("x"), ax.set_ylabel(title)
        else:
            if nd == 3:
                img = data.sum(axis=2) * meta["spacing"][2] if name == "rho" else data[:, :, data.shape[2] // 2]
                lab = "projected along z" if name == "rho" else "slice z = mid"
            else:
                img, lab = data, ""
            im = ax.imshow(img.T, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), aspect="auto")
            fig.colorbar(im, ax=ax)
            ax.set_xlabel("x"), ax.set_ylabel("y")
            title = f"{title} {lab}"
        ax.set_title(f"{title}, t = {t:.4g}", fontsize=9)
        paths.append(_save(fig, out / f"{'density_projection' if name == 'rho' else 'potential_slice'}.png"))
    if species:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for s in species:
            p = fio.read_particles(snap, s)
            x, v = p["position"], p["velocity"]
            step = max(1, x.shape[0] // 20000)
            if x.shape[1] == 1 or "charge" in p:  # phase space (PIC) x - v_x
                ax.plot(x[::step, 0], v[::step, 0], ",", alpha=0.6, label=s)
                ax.set_xlabel("x"), ax.set_ylabel("v_x")
            else:
                ax.plot(x[::step, 0], x[::step, 1], ",", alpha=0.6, label=s)
                ax.set_xlabel("x"), ax.set_ylabel("y")
        ax.set_title(f"particles, t = {t:.4g}", fontsize=9)
        ax.legend(fontsize=7, markerscale=20)
        paths.append(_save(fig, out / ("phase_space.png" if "charge" in p or x.shape[1] == 1 else "particles.png")))
    return paths


def _spectra_plot(path, out):
    plt = _plt()
    with h5py.File(path, "r") as f:
        if "fieldsolve/spectra" not in f:
            return []
        g = f["fieldsolve/spectra"]
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for name in g:
            if name == "k" or "k" not in g:
                continue
            ax.loglog(g["k"][()][1:], np.abs(g[name][()][1:]), label=name)
    ax.set_xlabel("k"), ax.set_ylabel("E(k)"), ax.legend(fontsize=8)
    return [_save(fig, out / "spectra.png")]


def make_plots(path, out=None):
    """PNGs for a run directory (energy, last snapshot) or for one snapshot file; returns paths."""
    path = Path(path)
    if path.is_dir():
        out = Path(out) if out else path / "plots"
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        if (path / "timeseries.h5").exists():
            paths += _energy_plot(path / "timeseries.h5", out)
        snaps = sorted((path / "diags" / "fields").glob("fs_*.h5"))
        if snaps:
            paths += _field_plots(snaps[-1], out)
            paths += _spectra_plot(snaps[-1], out)
        return paths
    out = Path(out) if out else path.parent
    out.mkdir(parents=True, exist_ok=True)
    if path.name == "timeseries.h5":
        return _energy_plot(path, out)
    return _field_plots(path, out) + _spectra_plot(path, out)
