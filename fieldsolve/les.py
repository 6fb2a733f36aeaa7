"""A-priori LES analysis of a periodic velocity field in one call.

``apriori(grid, u, filter=..., test_filter=...)`` filters a (DNS) velocity with the grid filter
and returns the filtered velocity, the exact residual stress ``tau_ij``, the filtered strain rate,
the SGS dissipation ``Pi = -tau_ij S_ij``, the SGS energy, the dynamic Smagorinsky coefficient
for the test filter (if one is given) and the energy spectra of ``u`` and ``ubar``.
Filters are given as :class:`fieldsolve.filters.Filter` objects or as dicts of
:func:`fieldsolve.make_filter` arguments, e.g. ``{"kind": "gaussian", "width": 2 * h}``.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import numpy as np
from ._compat import api

from .parallel.collective import allmean
from .parallel.layout import as_decomposition
from .sgs import (DynamicSmagorinsky, _stress, _strain_packed, _symmetric, _velocity, as_filter,
                  dynamic_smagorinsky, sgs_dissipation, sgs_energy)
from .spectra import energy_spectrum

__all__ = ["apriori", "AprioriResult"]


@dataclass
class AprioriResult:
    """Everything :func:`apriori` computes.

    Fields: ``ubar`` ``(d, *shape)``; ``tau`` and ``strain`` ``(d, d, *shape)``; ``dissipation``
    (``Pi``) and ``sgs_energy`` (``k_r``) ``(*shape)``; ``dynamic`` (a
    :class:`fieldsolve.sgs.DynamicSmagorinsky` or None); ``k``, ``E``, ``E_filtered`` (shell-sum
    spectra, see :func:`fieldsolve.energy_spectrum`); ``filter`` and ``test_filter`` metadata dicts;
    ``means`` (volume averages of ``Pi``, ``k_r``, resolved energy).
    """

    ubar: np.ndarray
    tau: np.ndarray
    strain: np.ndarray
    dissipation: np.ndarray
    sgs_energy: np.ndarray
    dynamic: DynamicSmagorinsky | None
    k: np.ndarray
    E: np.ndarray
    E_filtered: np.ndarray
    filter: dict
    test_filter: dict | None
    means: dict = dc_field(default_factory=dict)

    def summary(self) -> dict:
        """Scalars and metadata only (for logs and output attributes)."""
        out = {"filter": self.filter, "test_filter": self.test_filter, **self.means}
        if self.dynamic is not None:
            out.update({"c_dynamic": self.dynamic.c, "c_dynamic_raw": self.dynamic.c_raw,
                        "cs_dynamic": self.dynamic.cs, "alpha": self.dynamic.alpha,
                        "delta": self.dynamic.delta})
        return out


@api(grid_first=True)
def apriori(grid, u, filter=None, test_filter=None, *, alpha=None, clip=True,
            spectra=True) -> AprioriResult:
    """A-priori test of a velocity field ``u`` ``(ndim, *grid.shape)``.

    ``filter`` (required): grid filter, Filter or dict. ``test_filter`` (optional): enables the
    dynamic Smagorinsky coefficient on ``ubar``; ``alpha`` = combined-to-grid width ratio (default
    from :func:`fieldsolve.filters.filter_width_ratio`; logged and stored in the result).
    ``spectra=False`` skips the two energy spectra.

    With a :class:`fieldsolve.parallel.Decomposition` for ``grid``: ``u`` is this rank's slab, the
    fields of the result are this rank's slabs; spectra, means and the dynamic coefficient are
    over all ranks (the same on every rank).
    """
    if filter is None:
        raise ValueError("apriori needs filter= (a Filter or e.g. {'kind': 'gaussian', 'width': ...})")
    dec = as_decomposition(grid)
    u = _velocity(u, dec)
    gfilt = as_filter(dec, filter)
    d = dec.grid.ndim
    tau, ubar = _stress(u, gfilt, return_filtered=True, full=True)
    S = _symmetric(_strain_packed(ubar, dec), d)
    Pi = sgs_dissipation(tau, S)
    kr = sgs_energy(tau)
    dyn = None
    tmeta = None
    if test_filter is not None:
        tfilt = as_filter(dec, test_filter)
        tmeta = tfilt.metadata()
        dyn = dynamic_smagorinsky(grid, ubar, tfilt, gfilt, alpha=alpha, clip=clip)
    if spectra:
        k, E = energy_spectrum(grid, u)
        _, Ef = energy_spectrum(grid, ubar)
    else:
        k = E = Ef = np.empty(0)
    means = {"mean_dissipation": allmean(dec, Pi), "mean_sgs_energy": allmean(dec, kr),
             "resolved_energy": 0.5 * allmean(dec, np.sum(ubar.astype(np.float64) ** 2, axis=0)),
             "total_energy": 0.5 * allmean(dec, np.sum(u.astype(np.float64) ** 2, axis=0))}
    return AprioriResult(ubar, tau, S, Pi, kr, dyn, k, E, Ef, gfilt.metadata(), tmeta, means)

