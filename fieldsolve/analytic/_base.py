"""Shared by the analytic models: coordinates from a grid, arrays or points, and the spherical
model base class."""
from __future__ import annotations

import numpy as np

from ..grid import Grid

__all__ = []


def _coords(x, ndim):
    """Return a list of ``ndim`` coordinate arrays."""
    if isinstance(x, Grid):
        if x.ndim != ndim:
            raise ValueError(f"model is {ndim}-D but the grid is {x.ndim}-D")
        return list(x.mesh(sparse=True))
    if isinstance(x, (tuple, list)):
        if len(x) != ndim:
            raise ValueError(f"expected {ndim} coordinate arrays, got {len(x)}")
        return [np.asarray(c, dtype=np.float64) for c in x]
    x = np.asarray(x, dtype=np.float64)
    if ndim == 1 and (x.ndim == 0 or x.shape[-1] != 1):
        return [x]
    if x.shape[-1] != ndim:
        raise ValueError(f"points must have a last axis of length {ndim}, got shape {x.shape}")
    return [x[..., a] for a in range(ndim)]


def _center(center, ndim):
    c = np.broadcast_to(np.asarray(center, dtype=np.float64), (ndim,))
    return tuple(float(v) for v in c)


class _Model:
    ndim = 3

    def _rel(self, x):
        return [c - c0 for c, c0 in zip(_coords(x, self.ndim), self.center)]

    def _r(self, x):
        d = self._rel(x)
        return np.sqrt(sum(v * v for v in d)), d

    def acceleration(self, x):
        """``-grad(phi)`` with components on the last axis (spherical models)."""
        r, d = self._r(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(r > 0, self._dphi_dr(r) / r, 0.0)
        return np.stack(np.broadcast_arrays(*[-g * v for v in d]), axis=-1)
