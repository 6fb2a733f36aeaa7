"""Particle plots: phase space (x-v_x) and positions."""
from __future__ import annotations

import math

import numpy as np

from .. import openpmd
from .base import _AXES, _LEN, _VEL, _figure, _label, _needs, _plot, _SCATTER_MAX


def _read_all_species(src):
    return [openpmd.read_particles(src.snapshot, s) for s in src.species()]


def _zeldovich_exact(cfg, t):
    """(x, v) along the wave of the exact planar solution at time t (valid before shell crossing)."""
    from ..diagnostics import zeldovich_tau

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
