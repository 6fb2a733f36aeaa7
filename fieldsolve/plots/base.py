"""The plot registry and what every plot shares: the source a path holds (run directory,
snapshot or time series), the registration decorator, and the matplotlib helpers."""
from __future__ import annotations

import functools
from pathlib import Path

import h5py
import numpy as np

from .. import files, openpmd

__all__ = ["make_plots", "available"]

_PLOTS = {}          # name -> (function, one-line description, needs(src) -> None or why not)
_THIN = 4            # axes with at most this many cells are averaged over (planar problems)
_SCATTER_MAX = 5000  # fewer particles are drawn as points, more as a 2-D histogram


# --------------------------------------------------------------------------------------------
# what a path holds
# --------------------------------------------------------------------------------------------
class _Source:
    """A run directory, a snapshot or a timeseries.h5, with its config when one can be found."""

    def __init__(self, path):
        self.path = path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        self.run_dir = self.timeseries = self.snapshot = self.cfg = None
        cfg_text = None
        if path.is_dir():
            self.run_dir = path
            ts = path / "timeseries.h5"
            self.timeseries = ts if ts.exists() else None
            snaps = sorted((path / "diags" / "fields").glob("fs_*.h5"))
            self.snapshot = snaps[-1] if snaps else None
            cfg = path / "config.resolved.yaml"
            cfg_text = cfg.read_text() if cfg.exists() else None
            self.out, self.prefix = path / "plots", ""
        else:
            if not h5py.is_hdf5(path):
                raise ValueError(f"{path}: not an HDF5 file (need a run directory, a snapshot or timeseries.h5)")
            with h5py.File(path, "r") as f:
                if "openPMD" in f.attrs:
                    self.snapshot = path
                    if "fieldsolve/config_yaml" in f:
                        cfg_text = f["fieldsolve/config_yaml"][()].decode()
                elif "time" in f and "total_energy" in f:
                    self.timeseries = path
                    cfg = path.parent / "config.resolved.yaml"
                    cfg_text = cfg.read_text() if cfg.exists() else None
            self.out, self.prefix = path.parent, ("" if self.timeseries else f"{path.stem}_")
        if cfg_text:
            from ..config import load_config, load_yaml

            try:  # via a dict: load_config(text) tests the text as a path first
                self.cfg = load_config(load_yaml(cfg_text))
            except Exception:  # noqa: BLE001 - plots of an old or foreign file work without it
                self.cfg = None
        self.kind = getattr(self.cfg, "kind", None)
        if self.kind is None and self.timeseries is not None:
            with h5py.File(self.timeseries, "r") as f:
                self.kind = openpmd._decode(f.attrs.get("kind", b"")) or None

    @functools.cached_property
    def ts(self):
        return files.read_timeseries(self.timeseries)

    def meshes(self):
        with h5py.File(self.snapshot, "r") as f:
            g = f[f"data/{openpmd.list_iterations(self.snapshot)[-1]}"]
            return list(g["meshes"].keys()) if "meshes" in g else []

    def species(self):
        with h5py.File(self.snapshot, "r") as f:
            g = f[f"data/{openpmd.list_iterations(self.snapshot)[-1]}"]
            return list(g["particles"].keys()) if "particles" in g else []

    def extra(self, name):
        with h5py.File(self.snapshot, "r") as f:
            return f[name][()] if name in f else None

    @property
    def planar_axis(self):
        """The axis of a planar (1-D) problem, else None: 1-D grids, a Zel'dovich wave."""
        if self.cfg is None:
            return None
        if len(self.cfg.grid.shape) == 1:
            return 0
        ic = getattr(self.cfg, "initial", None)
        return ic.axis if getattr(ic, "kind", None) == "zeldovich" else None


def _needs(timeseries=False, snapshot=False, meshes=(), kind=None, extra=None, species=False):
    def check(src):
        if timeseries and src.timeseries is None:
            return "needs a run directory or timeseries.h5"
        if kind and src.kind not in kind:
            return f"only for {'/'.join(kind)} runs (this is {src.kind or 'unknown'})"
        if (snapshot or meshes or extra or species) and src.snapshot is None:
            return "needs a run directory with snapshots or a snapshot fs_*.h5"
        missing = [m for m in meshes if m not in src.meshes()]
        if missing:
            return f"the snapshot has no mesh {', '.join(missing)}"
        if extra and src.extra(extra) is None:
            return f"the snapshot has no {extra}"
        if species and not src.species():
            return "the snapshot has no particles"
        return None
    return check


def _plot(description, needs):
    """Register ``draw(src) -> Figure`` as the public plot function ``name(path, out=None, save=True)``."""
    def deco(draw):
        name = draw.__name__

        @functools.wraps(draw)
        def plot(path, out=None, *, save=True):
            src = path if isinstance(path, _Source) else _Source(path)
            why = needs(src)
            if why:
                raise ValueError(f"plot {name!r} does not apply to {src.path}: {why}")
            fig = draw(src)
            if not save:
                return fig
            out_dir = Path(out) if out is not None else src.out
            out_dir.mkdir(parents=True, exist_ok=True)
            return _save(fig, out_dir / f"{src.prefix}{name}.png")

        plot.__doc__ = (f"``{description}``.\n\n``path``: run directory or file; ``out``: directory for the "
                        f"PNG (default ``<run>/plots``); returns the PNG path, or the Figure with "
                        f"``save=False``.\n{draw.__doc__ or ''}")
        _PLOTS[name] = (plot, description, needs)
        return plot
    return deco


def available() -> dict:
    """``{plot name: one-line description}`` of every plot function."""
    return {name: desc for name, (_, desc, _) in _PLOTS.items()}


def make_plots(path, out=None, only=None):
    """Write every plot that applies to ``path`` (or the plots named in ``only``); returns the
    PNG paths. A run directory gets its PNGs in ``<run>/plots``, a file beside itself."""
    src = _Source(path)
    names = list(_PLOTS) if only is None else list(only)
    unknown = [n for n in names if n not in _PLOTS]
    if unknown:
        raise ValueError(f"unknown plot(s) {', '.join(unknown)}; available: {', '.join(_PLOTS)}")
    paths = []
    for name in names:
        fn, _, needs = _PLOTS[name]
        if only is None and needs(src):
            continue
        paths.append(fn(src, out))
    return paths


# --------------------------------------------------------------------------------------------
# matplotlib helpers
# --------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    path = Path(path)
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _plt().close(fig)
    return path


def _figure(ncols=1, nrows=1, size=(5.2, 4.0)):
    fig, axes = _plt().subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                                layout="constrained", squeeze=False)
    return fig, list(axes.flat)


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _units_text(unit_dimension) -> str:
    """A code-unit dimension in words, from openPMD powers of (L, M, T, I, theta, N, J):
    ``(-3, 1, 0, ...)`` -> ``"mass/length³"``; current times time is shown as charge."""
    L, M, T, I = (int(round(float(p))) for p in list(unit_dimension)[:4])
    parts = [("mass", M), ("charge", I), ("length", L), ("time", T - I)]
    up = "·".join(n + (str(p).translate(_SUP) if p != 1 else "") for n, p in parts if p > 0)
    down = "·".join(n + (str(-p).translate(_SUP) if p != -1 else "") for n, p in parts if p < 0)
    if not up and not down:
        return "dimensionless"
    return (up or "1") + (f"/{down}" if down else "")


def _label(quantity, unit_dimension):
    return f"{quantity} [{_units_text(unit_dimension)}, code units]"


_LEN = openpmd.UNIT_DIMENSION["length"]
_VEL = openpmd.UNIT_DIMENSION["velocity"]
_ENERGY = (2, 1, -2, 0, 0, 0, 0)
_TIME = (0, 0, 1, 0, 0, 0, 0)
_AXES = "xyz"


def _mesh_title(src, name):
    pic = src.kind == "pic"
    if name == "rho":
        if not pic:
            return "mass density ρ"
        bg = getattr(src.cfg, "background", "neutralizing") == "neutralizing"
        return "charge density ρ" + (" (species + neutralising background)" if bg else " (species)")
    if name == "phi":
        return "electrostatic potential φ" if pic else "gravitational potential φ"
    return name


def _image(fig, ax, img, lo, hi, axes, label, log=False, diverging=None):
    """Colour map of ``img`` (indexed [a, b]) over [lo, hi] with equal aspect and a labelled colour bar."""
    from matplotlib.colors import LogNorm

    img = np.asarray(img, dtype=np.float64)
    kw = {}
    if diverging is None:
        diverging = img.min() < 0 < img.max()
    pos = img[img > 0]
    if log and img.min() >= 0 and pos.size and img.max() > 1e3 * pos.min():
        kw["norm"] = LogNorm(vmin=max(pos.min(), img.max() * 1e-5), vmax=img.max(), clip=True)
    elif diverging:
        m = np.abs(img).max() or 1.0
        kw.update(cmap="RdBu_r", vmin=-m, vmax=m)
    im = ax.imshow(img.T, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), interpolation="nearest", **kw)
    ax.set_aspect("equal")
    ax.set_xlabel(_label(axes[0], _LEN)), ax.set_ylabel(_label(axes[1], _LEN))
    fig.colorbar(im, ax=ax, shrink=0.9).set_label(label)
    return im


def _field_panel(src, fig, ax, data, meta, symbol, project=False, log=False, first=None):
    """Profile (planar problems), map (2-D) or mid-plane slice / projection (3-D) of one mesh;
    ``first`` (data, meta) of the first snapshot is drawn under a profile for reference."""
    udim = meta["unit_dimension"]
    shape = np.array(data.shape)
    lo = np.asarray(meta["offset"])
    h = np.asarray(meta["spacing"])
    hi = lo + h * shape
    thin = [a for a in range(data.ndim) if shape[a] <= _THIN]
    keep = [a for a in range(data.ndim) if a not in thin] or [int(np.argmax(shape))]
    planar = src.planar_axis
    if planar is not None and data.ndim > 1:
        keep = [planar]
    if len(keep) == 1:
        a = keep[0]
        others = tuple(b for b in range(data.ndim) if b != a)
        x = lo[a] + (np.arange(shape[a]) + 0.5) * h[a]
        if first is not None and first[1]["time"] != meta["time"]:
            f0 = first[0].mean(axis=others) if others else first[0]
            ax.plot(x, f0, color="0.6", lw=1, label=f"t = {first[1]['time']:.4g}")
        ax.plot(x, data.mean(axis=others) if others else data, lw=1.2, label=_time_text(meta))
        if first is not None and first[1]["time"] != meta["time"]:
            ax.legend(fontsize=8)
        ax.set_xlabel(_label(_AXES[a], _LEN)), ax.set_ylabel(_label(symbol, udim))
        ax.axhline(0, color="0.6", lw=0.6)
        return "" if not others else f"averaged over {', '.join(_AXES[b] for b in others)}"
    if len(keep) == 2:
        img = data.mean(axis=tuple(thin)) if thin else data
        a, b = keep
        _image(fig, ax, img, lo[[a, b]], hi[[a, b]], (_AXES[a], _AXES[b]), _label(symbol, udim), log=log)
        return "" if not thin else f"averaged over {', '.join(_AXES[c] for c in thin)}"
    if project:  # column density: sum along z times dz
        pdim = np.array(udim, dtype=float) + np.array(_LEN)
        _image(fig, ax, data.sum(axis=2) * h[2], lo, hi, "xy", _label(f"∫{symbol} dz", pdim), log=log)
        return "projected along z"
    k = shape[2] // 2
    _image(fig, ax, data[:, :, k], lo, hi, "xy", _label(symbol, udim), log=log)
    return f"slice z = {lo[2] + (k + 0.5) * h[2]:.4g}"


def _time_text(meta):
    return f"t = {meta['time']:.4g}"
