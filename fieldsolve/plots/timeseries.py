"""Time-series plots: energies, momentum, the followed mode with linear theory."""
from __future__ import annotations

import math

import h5py
import numpy as np

from .base import _AXES, _ENERGY, _TIME, _figure, _label, _needs, _plot


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
    from ..diagnostics import landau_root, two_stream_growth_rate

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
