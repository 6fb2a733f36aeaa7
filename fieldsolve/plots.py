"""Plots of fieldsolve runs, one function per plot.

Each plot function takes a run directory (some also a snapshot ``fs_*.h5`` or ``timeseries.h5``),
writes one PNG and returns its path; ``save=False`` returns the matplotlib Figure instead::

    import fieldsolve.plots as fp
    fp.energy("runs/landau")                      # -> runs/landau/plots/energy.png
    fig = fp.phase_space("runs/landau/diags/fields/fs_000250.h5", save=False)

:func:`make_plots` writes every plot that applies (``fieldsolve plot``); :func:`available`
lists them with one line each (``fieldsolve plot --list``). Values are shown in the run's code
units, and every axis and colour bar names the dimension ("mass/length^3, code units").
Spatial maps have equal aspect; quantities that span decades are on log axes. Matplotlib runs
non-interactively (Agg) and every PNG is written atomically.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import h5py
import numpy as np

from . import files, openpmd

__all__ = ["make_plots", "available", "energy", "momentum", "mode_energy", "density", "potential",
           "phase_space", "particles", "poisson_error", "poisson_convergence", "les_spectra", "les_fields"]

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
            from .config import load_config, load_yaml

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

        plot.__doc__ = (f"{description}.\n\n``path``: run directory or file; ``out``: directory for the "
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


# --------------------------------------------------------------------------------------------
# time series
# --------------------------------------------------------------------------------------------
@_plot("energy components on log axes and the relative energy error |E(t) - E(0)| / |E(0)|",
       _needs(timeseries=True))
def energy(src):
    ts = src.ts
    t = ts["time"]
    fig, (a, b) = _figure(2, 1, (5.4, 3.9))
    series = [("kinetic K", ts["kinetic_energy"], "C0")]
    if "potential_energy" in ts:
        series.append(("|W|, potential (W < 0)", np.abs(ts["potential_energy"]), "C1"))
    if "field_energy" in ts:
        series.append(("field energy ε₀∫E²/2", ts["field_energy"], "C1"))
    series.append(("|total E|", np.abs(ts["total_energy"]), "k"))
    for lab, y, c in series:
        y = np.where(y > 0, y, np.nan)  # log axis: a zero (start from rest) is left out
        a.semilogy(t, y, color=c, label=lab, lw=1.3, ls="--" if c == "k" else "-")
    a.set_xlabel(_label("t", _TIME)), a.set_ylabel(_label("energy", _ENERGY))
    a.legend(fontsize=8)
    a.set_title("energy components", fontsize=9)
    e = ts["total_energy"]
    if e[0] != 0:
        rel = np.abs(e - e[0]) / abs(e[0])
        b.semilogy(t[1:], np.where(rel[1:] > 0, rel[1:], np.nan), "k", lw=1.1)
        b.set_title(f"max |E(t) − E(0)| / |E(0)| = {rel.max():.2e}", fontsize=9)
    else:
        b.set_title("E(0) = 0: no relative error", fontsize=9)
    b.set_xlabel(_label("t", _TIME)), b.set_ylabel("|E(t) − E(0)| / |E(0)|")
    return fig


@_plot("total momentum minus its initial value, per component", _needs(timeseries=True))
def momentum(src):
    ts = src.ts
    t = ts["time"]
    mom = np.asarray(ts["momentum"]).reshape(len(t), -1)
    fig, (ax,) = _figure(1, 1, (6.0, 3.8))
    for a in range(mom.shape[1]):
        ax.plot(t, mom[:, a] - mom[0, a], lw=1.1, label=f"P_{_AXES[a]}(t) − P_{_AXES[a]}(0);  P_{_AXES[a]}(0) = {mom[0, a]:.3g}")
    ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-3, 3))
    ax.set_xlabel(_label("t", _TIME))
    ax.set_ylabel(_label("ΔP", (1, 1, -1, 0, 0, 0, 0)))
    ax.legend(fontsize=8)
    ax.set_title(f"total momentum: max |P(t) − P(0)| = {np.abs(mom - mom[0]).max():.2e}", fontsize=9)
    return fig


def _linear_theory(cfg, mode):
    """(label, energy rate 2 gamma) of the perturbed mode where the config has a textbook root:
    one Maxwellian species (Landau), or two equal cold beams at +-v0 (two-stream); else None."""
    from .diagnostics import landau_root, two_stream_growth_rate

    if cfg is None or cfg.kind != "pic":
        return None
    nd = len(cfg.grid.shape)
    box = np.array(cfg.grid.per_axis("box"), dtype=float)
    kvec = 2 * np.pi * np.asarray(mode, dtype=float) / box
    k = float(np.linalg.norm(kvec))
    if k == 0:
        return None
    axis = int(np.argmax(np.abs(kvec)))
    along = np.count_nonzero(kvec) == 1
    wp = math.sqrt(sum(s.density * s.charge ** 2 / (cfg.units.epsilon0 * s.mass) for s in cfg.species))

    def per_axis(v):
        return list(v) * nd if len(v) == 1 else list(v)

    sp = cfg.species
    if len(sp) == 1 and not any(sp[0].drift):
        vth = per_axis(sp[0].v_th)
        if vth[axis] > 0 and (along or len(set(vth)) == 1):
            w = landau_root(k, vth[axis], wp)
            return (f"Landau root ω = {w.real:.4f}, γ = {w.imag:.4f}: W ∝ exp(2γt)", 2 * w.imag)
    if len(sp) == 2 and along and all(not any(s.v_th) for s in sp):
        a, b = sp
        da = (list(a.drift) + [0.0] * nd)[:nd]
        db = (list(b.drift) + [0.0] * nd)[:nd]
        same = (a.density, a.charge, a.mass) == (b.density, b.charge, b.mass)
        if same and da[axis] == -db[axis] != 0 and not any(da[:axis] + da[axis + 1:] + db[:axis] + db[axis + 1:]):
            g = two_stream_growth_rate(k, abs(da[axis]), wp)
            if g > 0:
                return (f"cold two-stream γ = {g:.4f}: W ∝ exp(2γt)", 2 * g)
    return None


@_plot("energy in the perturbed Fourier mode (log axis) with the linear-theory rate where the "
       "config has one (Landau damping, cold two-stream)", _needs(timeseries=True, kind=("pic",)))
def mode_energy(src):
    ts = src.ts
    t, w = ts["time"], np.asarray(ts["mode_energy"])
    with h5py.File(src.timeseries, "r") as f:
        mode = tuple(int(m) for m in f.attrs.get("mode", [1]))
    fig, (ax,) = _figure(1, 1, (6.2, 4.0))
    ax.semilogy(t, np.where(w > 0, w, np.nan), lw=1.2, label=f"mode {mode}")
    ax.semilogy(t, np.where(ts["field_energy"] > 0, ts["field_energy"], np.nan), color="0.6", lw=0.8,
                label="all modes (field energy)")
    theory = _linear_theory(src.cfg, mode)
    if theory is not None and np.all(np.isfinite(w)) and w.max() > 0:
        label, rate = theory
        imax = int(np.argmax(w >= 0.5 * w.max()))  # the first saturation
        if imax < 2:  # no growth seen (yet): draw the line over the whole run
            imax = len(w) - 1
        if rate < 0:  # fitted (at the theory's slope) to the maxima while they still decay
            i = np.flatnonzero((w[1:-1] > w[:-2]) & (w[1:-1] >= w[2:])) + 1
            n = 1
            while n < min(len(i), 8) and w[i[n]] < w[i[n - 1]]:
                n += 1
            i = i[:n] if n >= 2 else np.array([int(np.argmax(w))])
            tt = t[i[0]:]
            line = np.exp(np.mean(np.log(w[i]) - rate * t[i]) + rate * tt)
        else:  # through the middle (in log) of the growth up to the first saturation
            logw = np.log(np.maximum(w[: imax + 1], w.max() * 1e-300))
            i0 = int(np.argmin(np.abs(logw - 0.5 * (logw[0] + logw[-1]))))
            tt = t[: imax + 1]
            line = w[i0] * np.exp(rate * (tt - t[i0]))
        ax.semilogy(tt, line, "k--", lw=1, label=f"linear theory, {label}")
        ax.set_title(f"mode energy; theory rate 2γ = {rate:+.4f}", fontsize=9)
    else:
        ax.set_title("mode energy (no linear-theory root for this config)", fontsize=9)
    ax.set_ylim(bottom=max(np.nanmin(np.where(w > 0, w, np.nan)) * 0.3, w.max() * 1e-12))
    ax.set_xlabel(_label("t", _TIME)), ax.set_ylabel(_label("energy", _ENERGY))
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# meshes
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# particles
# --------------------------------------------------------------------------------------------
def _read_all_species(src):
    return [openpmd.read_particles(src.snapshot, s) for s in src.species()]


def _zeldovich_exact(cfg, t):
    """(x, v) along the wave of the exact planar solution at time t (valid before shell crossing)."""
    from .diagnostics import zeldovich_tau

    ic = cfg.initial
    a = ic.axis
    L = cfg.grid.per_axis("box")[a]
    o = cfg.grid.per_axis("origin")[a]
    tau = zeldovich_tau(cfg.units.G, ic.mean_density)
    q = o + (np.arange(2000) + 0.5) * L / 2000
    s = np.sin(2 * np.pi * ic.mode * (q - o) / L)
    x = o + np.mod(q + ic.amplitude * math.cosh(t / tau) * s - o, L)
    v = ic.amplitude / tau * math.sinh(t / tau) * s
    order = np.argsort(x)
    return x[order], v[order]


@_plot("phase space x - v_x (2-D histogram for many particles) of PIC and planar runs",
       lambda src: _needs(species=True)(src) or (None if src.kind == "pic" or src.planar_axis is not None
                                                  else "only for PIC and planar (1-D, Zel'dovich) runs"))
def phase_space(src):
    a = src.planar_axis or 0
    ps = _read_all_species(src)
    x = np.concatenate([p["position"][:, a] for p in ps])
    v = np.concatenate([p["velocity"][:, a] for p in ps])
    fig, (ax,) = _figure(1, 1, (6.4, 4.4))
    ax_name = _AXES[a]
    lo = hi = None
    if src.cfg is not None:
        lo = src.cfg.grid.per_axis("origin")[a]
        hi = lo + src.cfg.grid.per_axis("box")[a]
    if x.size > _SCATTER_MAX:
        nx = int(min(256, 2 * (src.cfg.grid.shape[a] if src.cfg else 64)))
        xr = (lo, hi) if lo is not None else (x.min(), x.max())
        vpad = 0.02 * (np.ptp(v) or 1.0)
        H, xe, ve = np.histogram2d(x, v, bins=(nx, 160), range=(xr, (v.min() - vpad, v.max() + vpad)))
        from matplotlib.colors import PowerNorm

        im = ax.pcolormesh(xe, ve, H.T, cmap="magma", norm=PowerNorm(0.5), shading="flat", rasterized=True)
        fig.colorbar(im, ax=ax).set_label("macro-particles per bin (square-root colour scale)")
    else:
        for p in ps:
            ax.plot(p["position"][:, a], p["velocity"][:, a], ".", ms=2, label=p["species"])
        if len(ps) > 1:
            ax.legend(fontsize=8, markerscale=4)
    t = ps[0]["time"]
    ic = getattr(src.cfg, "initial", None)
    if getattr(ic, "kind", None) == "zeldovich":
        xe_, ve_ = _zeldovich_exact(src.cfg, t)
        ax.plot(xe_, ve_, "k-", lw=0.8, alpha=0.7, label="exact planar solution (before shell crossing)")
        ax.legend(fontsize=8)
    if lo is not None:
        ax.set_xlim(lo, hi)
    ax.set_xlabel(_label(ax_name, _LEN)), ax.set_ylabel(_label(f"v_{ax_name}", _VEL))
    names = ", ".join(p["species"] for p in ps)
    ax.set_title(f"phase space ({names}, {x.size} particles), t = {t:.4g}", fontsize=9)
    return fig


@_plot("particle positions projected on x-y (equal aspect; 2-D histogram, log colours, for many particles)",
       lambda src: _needs(species=True)(src) or (None if src.kind == "nbody" and src.planar_axis is None
                                                  else "only for non-planar nbody runs (PIC: phase_space)"))
def particles(src):
    ps = _read_all_species(src)
    xy = np.concatenate([p["position"][:, :2] for p in ps])
    fig, (ax,) = _figure(1, 1, (5.6, 4.6))
    if src.cfg is not None:
        lo = np.array(src.cfg.grid.per_axis("origin")[:2], dtype=float)
        hi = lo + np.array(src.cfg.grid.per_axis("box")[:2], dtype=float)
    else:
        lo, hi = xy.min(axis=0), xy.max(axis=0)
    if xy.shape[0] > _SCATTER_MAX:
        from matplotlib.colors import LogNorm

        side = float(max(hi - lo))
        nb = (np.maximum(8, np.round(200 * (hi - lo) / side))).astype(int)
        H, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=nb, range=((lo[0], hi[0]), (lo[1], hi[1])))
        im = ax.pcolormesh(xe, ye, np.where(H > 0, H, np.nan).T, cmap="viridis", norm=LogNorm(vmin=1),
                           shading="flat", rasterized=True)
        fig.colorbar(im, ax=ax, shrink=0.9).set_label("particles per bin (projected along z)")
    else:
        ax.plot(xy[:, 0], xy[:, 1], ".", ms=1.5)
    ax.set_xlim(lo[0], hi[0]), ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel(_label("x", _LEN)), ax.set_ylabel(_label("y", _LEN))
    ax.set_title(f"{xy.shape[0]} particles projected along z, t = {ps[0]['time']:.4g}", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# Poisson
# --------------------------------------------------------------------------------------------
def _source_centre(cfg, nd):
    c = getattr(getattr(cfg, "source", None), "center", None)
    if c is not None:
        return np.array(c, dtype=float)[:nd]
    o = np.array(cfg.grid.per_axis("origin"), dtype=float)[:nd]
    return o + 0.5 * np.array(cfg.grid.per_axis("box"), dtype=float)[:nd]


@_plot("Poisson run: error of the potential against the analytic one, mid-plane map and vs radius",
       _needs(kind=("poisson",), extra="fieldsolve/extras/phi_error"))
def poisson_error(src):
    err = np.asarray(src.extra("fieldsolve/extras/phi_error"), dtype=np.float64)
    exact = np.asarray(src.extra("fieldsolve/extras/phi_exact"), dtype=np.float64)
    _, meta = openpmd.read_mesh(src.snapshot, "phi")
    scale = np.abs(exact).max()
    rel = err / scale
    fig, (a, b) = _figure(2, 1, (5.8, 4.4))
    lo = np.asarray(meta["offset"])
    h = np.asarray(meta["spacing"])
    hi = lo + h * np.array(err.shape)
    nd = err.ndim
    if nd >= 2:
        img = rel[:, :, err.shape[2] // 2] if nd == 3 else rel
        _image(fig, a, img, lo[:2], hi[:2], "xy", "relative error (φ − φ_exact) / max|φ_exact|", diverging=True)
        a.set_title("error, mid-plane slice" if nd == 3 else "error", fontsize=9)
    else:
        x = lo[0] + (np.arange(err.shape[0]) + 0.5) * h[0]
        a.plot(x, rel)
        a.set_xlabel(_label("x", _LEN)), a.set_ylabel("(φ − φ_exact) / max|φ_exact|")
    centres = np.meshgrid(*[lo[i] + (np.arange(n) + 0.5) * h[i] for i, n in enumerate(err.shape)], indexing="ij")
    c = _source_centre(src.cfg, nd) if src.cfg is not None else lo + 0.5 * (hi - lo)
    r = np.sqrt(sum((g - ci) ** 2 for g, ci in zip(centres, c))).ravel()
    y = np.abs(rel).ravel()
    step = max(1, r.size // 20000)
    b.semilogy(r[::step], np.where(y[::step] > 0, y[::step], np.nan), ".", ms=1.5, color="C0", alpha=0.5)
    b.set_xlabel(_label("distance from the source centre", _LEN))
    b.set_ylabel("|φ − φ_exact| / max|φ_exact|")
    l2 = np.linalg.norm(err) / np.linalg.norm(exact)
    b.set_title(f"relative L2 error {l2:.2e}, max {np.abs(rel).max():.2e}", fontsize=9)
    return fig


@_plot("Poisson run: relative L2 error of the potential vs grid spacing (the run's config solved "
       "again at 1/2 and 3/4 of its resolution), with the kernel's order",
       lambda src: (_needs(kind=("poisson",), extra="fieldsolve/extras/phi_error")(src)
                    or (None if src.cfg is not None else "needs the run's config")))
def poisson_convergence(src):
    from .poisson import PoissonSolver
    from .runs.poisson import source_model as _poisson_model

    cfg = src.cfg
    base = np.array(cfg.grid.shape)
    hs, errs, order = [], [], None
    for f in (0.5, 0.75, 1.0):
        shape = [max(4, int(round(n * f / 2)) * 2) for n in base]
        c = cfg.model_copy(update={"grid": cfg.grid.model_copy(update={"shape": shape})})
        grid = c.grid.make()
        rho, model = _poisson_model(c, grid)
        solver = PoissonSolver(grid, c.solver.kernel, warn_mean=False)
        fsrc = 4 * np.pi * c.G * rho
        exact = np.asarray(np.broadcast_to(model.potential(grid), grid.shape), dtype=np.float64)
        if grid.all_periodic:
            fsrc, exact = fsrc - fsrc.mean(), exact - exact.mean()
        phi = solver.solve(fsrc)
        hs.append(max(grid.spacing))
        errs.append(np.linalg.norm(phi - exact) / np.linalg.norm(exact))
        order = solver.order
    hs, errs = np.array(hs), np.array(errs)
    fig, (ax,) = _figure(1, 1, (5.4, 4.0))
    ax.loglog(hs, errs, "o-", label="relative L2 error of φ")
    if order:
        ax.loglog(hs, errs[-1] * (hs / hs[-1]) ** order, "k--", lw=0.9, label=f"h^{order:g} (kernel order)")
    observed = math.log(errs[-2] / errs[-1]) / math.log(hs[-2] / hs[-1])
    ax.set_xlabel(_label("grid spacing h", _LEN)), ax.set_ylabel("‖φ − φ_exact‖₂ / ‖φ_exact‖₂")
    ax.set_title(f"convergence, kernel {cfg.solver.kernel or 'default'}: observed order {observed:.2f}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# LES
# --------------------------------------------------------------------------------------------
@_plot("LES: energy spectra of u and ubar up to Nyquist with a k^-5/3 reference, and the filter "
       "transfer |G(k)|^2 (measured Ebar/E and analytic)",
       _needs(kind=("les",), extra="fieldsolve/spectra/k"))
def les_spectra(src):
    from .filters import transfer_function

    k = np.asarray(src.extra("fieldsolve/spectra/k"), dtype=float)
    E = np.asarray(src.extra("fieldsolve/spectra/E"), dtype=float)
    Ef = np.asarray(src.extra("fieldsolve/spectra/E_filtered"), dtype=float)
    _, meta = openpmd.read_mesh(src.snapshot, src.meshes()[0])
    h = float(np.max(meta["spacing"]))
    knyq = math.pi / h
    sel = (k > 0) & (k <= knyq * (1 + 1e-12))
    fmeta = src.extra("fieldsolve/filters/filter")
    fmeta = json.loads(fmeta.decode()) if fmeta is not None else {}
    fig, (a, b) = _figure(2, 1, (5.4, 4.2))
    a.loglog(k[sel], E[sel], "C0-", lw=1.4, label="E(k), u")
    a.loglog(k[sel], Ef[sel], "C1-", lw=1.4, label="Ē(k), filtered ū")
    ipk = int(np.argmax(np.where(sel, E, -np.inf)))
    kr = k[sel & (k >= k[ipk])]
    a.loglog(kr, E[ipk] * (kr / k[ipk]) ** (-5.0 / 3.0), "k--", lw=0.9, label="k^-5/3 reference")
    shown = np.concatenate([E[sel], Ef[sel]])
    shown = shown[shown > 0]
    a.set_ylim(max(shown.min(), shown.max() * 1e-10) * 0.5, shown.max() * 3)
    a.set_xlim(k[sel][0] * 0.9, knyq * 1.05)
    a.axvline(knyq, color="0.5", lw=0.8, ls=":", label=f"Nyquist π/h = {knyq:.4g}")
    delta = float(np.max(fmeta.get("effective_width", [0]) or [0]))
    if delta > 0:
        a.axvline(math.pi / delta, color="C1", lw=0.8, ls=":", label=f"filter scale π/Δ = {math.pi / delta:.4g}")
    a.set_xlabel(_label("k", (-1, 0, 0, 0, 0, 0, 0))), a.set_ylabel(_label("E(k)", (3, 0, -2, 0, 0, 0, 0)))
    a.legend(fontsize=8)
    a.set_title("shell-sum spectra, Σ E Δk = ⟨u·u⟩/2", fontsize=9)
    ok = sel & (E > 0)
    b.semilogx(k[ok], Ef[ok] / E[ok], "o", ms=3, color="C1", label="measured Ē/E per shell")
    kind = fmeta.get("kind")
    try:
        kk = np.linspace(k[sel][0], knyq, 200)
        G = transfer_function(kind, kk, width=fmeta["width"][0], h=h, shape=fmeta.get("shape", "sphere"))
        b.semilogx(kk, np.abs(G) ** 2, "k-", lw=1, label=f"|Ĝ(k)|², {kind} Δ = {fmeta['width'][0]:.4g} (along an axis)")
    except (KeyError, TypeError, ValueError):
        pass  # composite or user kernels: only the measured ratio
    b.set_ylim(-0.05, 1.1)
    b.axvline(knyq, color="0.5", lw=0.8, ls=":")
    b.set_xlabel(_label("k", (-1, 0, 0, 0, 0, 0, 0))), b.set_ylabel("|Ĝ(k)|²")
    b.set_title("filter transfer function", fontsize=9)
    b.legend(fontsize=8)
    return fig


@_plot("LES: mid-plane slices of u_x, filtered ubar_x, SGS dissipation Pi and SGS energy k_sgs",
       _needs(kind=("les",), snapshot=True))
def les_fields(src):
    names = src.meshes()
    panels = []
    if "u" in names:
        panels.append(("u", 0, "u_x"))
    if "ubar" in names:
        panels.append(("ubar", 0, "ū_x (filtered)"))
    if "Pi" in names:
        panels.append(("Pi", None, "Π = −τ_ij S̄_ij (SGS dissipation)"))
    if "k_sgs" in names:
        panels.append(("k_sgs", None, "k_sgs = τ_ii / 2"))
    if not panels:
        raise ValueError(f"{src.snapshot}: no LES meshes (u, ubar, Pi, k_sgs)")
    ncol = min(2, len(panels))
    fig, axes = _figure(ncol, (len(panels) + 1) // 2, (5.0, 4.2))
    vlim = None
    for ax, (name, comp, title) in zip(axes, panels):
        data, meta = openpmd.read_mesh(src.snapshot, name)
        if comp is not None:
            data = data[comp]
        img = data[:, :, data.shape[2] // 2] if data.ndim == 3 else data
        lo = np.asarray(meta["offset"])[:2]
        hi = lo + np.asarray(meta["spacing"])[:2] * np.array(img.shape)
        im = _image(fig, ax, img, lo, hi, "xy", _label(title.split()[0], meta["unit_dimension"]))
        if comp is not None:  # u and ubar on one colour scale
            vlim = vlim or im.get_clim()
            im.set_clim(*vlim)
        ax.set_title(title + (", slice z = mid" if data.ndim == 3 else ""), fontsize=9)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig
