"""Poisson-run plots: the error map against the analytic potential and its convergence."""
from __future__ import annotations

import math

import numpy as np

from .. import openpmd
from .base import _LEN, _figure, _image, _label, _needs, _plot


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
    from ..poisson import PoissonSolver
    from ..runs.poisson import source_model as _poisson_model

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
