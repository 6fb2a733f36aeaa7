"""LES plots: energy spectra with the filter transfer, and field slices."""
from __future__ import annotations

import json
import math

import numpy as np

from .. import openpmd
from .base import _figure, _image, _label, _needs, _plot


@_plot("LES: energy spectra of u and ubar up to Nyquist with a k^-5/3 reference, and the filter "
       "transfer |G(k)|^2 (measured Ebar/E and analytic)",
       _needs(kind=("les",), extra="fieldsolve/spectra/k"))
def les_spectra(src):
    from ..filters import transfer_function

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
