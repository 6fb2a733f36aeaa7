"""Subgrid-scale (residual) stresses and the dynamic Smagorinsky model, computed spectrally.

Definitions (Pope 2000, ch. 13; Germano et al. 1991; Lilly 1992), with ``bar`` the grid filter
and ``hat`` a test filter, both homogeneous (:class:`fieldsolve.filters.Filter`):

* residual stress ``tau_ij = bar(u_i u_j) - bar(u_i) bar(u_j)`` (units of velocity^2),
  SGS energy ``k_r = tau_ii / 2``;
* filtered strain rate ``S_ij = (d_j ubar_i + d_i ubar_j)/2`` (spectral derivatives, 1/time),
  ``|S| = sqrt(2 S_ij S_ij)``;
* SGS dissipation (energy flux to the residual scales) ``Pi = -tau_ij S_ij`` (velocity^2/time);
* Leonard stress of the test filter ``L_ij = hat(ubar_i ubar_j) - hat(ubar_i) hat(ubar_j)``;
  Germano's identity ``L_ij = T_ij - hat(tau_ij)`` with ``T_ij = hat(bar(u_i u_j)) -
  hat(ubar_i) hat(ubar_j)`` holds exactly for any linear filters;
* dynamic Smagorinsky: ``tau^d = -2 c Delta^2 |S| S``; least squares over the volume,
  ``c = <L^d_ij M_ij> / <M_kl M_kl>``, ``M_ij = 2 Delta^2 (hat(|S| S_ij) - alpha^2 |S^| S^_ij)``,
  ``alpha = Delta_hat / Delta`` (combined test-o-grid width over grid width), ``C_S = sqrt(c)``.

Every function taking a grid also takes a :class:`fieldsolve.parallel.Decomposition`: velocities
and tensors are then this rank's slabs (``(ndim, *local_shape)``...), filters act on them through
distributed transforms and volume averages are over all ranks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from ._compat import api

from .filters import Filter, _check_grid, filter_width_ratio, make_filter
from .parallel import dfft
from .parallel.collective import agreed, allsum
from .parallel.layout import as_decomposition
from .spectra import _ik

__all__ = ["sgs_stress", "strain_rate", "strain_magnitude", "sgs_energy", "sgs_dissipation",
           "leonard_stress", "smagorinsky_stress", "dynamic_smagorinsky", "DynamicSmagorinsky",
           "as_filter"]

log = logging.getLogger(__name__)


def as_filter(grid, spec=None, **kwargs) -> Filter:
    """A :class:`Filter` from a Filter, a dict of :func:`make_filter` arguments
    (``{"kind": "gaussian", "width": 0.2}``) or keyword arguments."""
    if isinstance(spec, Filter):
        if kwargs:
            raise ValueError("pass either a Filter or filter arguments, not both")
        return spec.on(grid)
    args = dict(spec or {})
    args.update(kwargs)
    return make_filter(grid, **args)


def _velocity(u, decomposition):
    """``u`` checked against this rank's slab (the whole grid in serial), on every rank."""
    _check_grid(decomposition.grid)
    return agreed(decomposition, _real_velocity, u, decomposition.grid.ndim, decomposition.local_shape)


def _real_velocity(u, nd, shape):
    u = np.asarray(u)
    if np.iscomplexobj(u):
        raise ValueError("velocity must be real")
    if u.shape != (nd,) + shape:
        raise ValueError(f"velocity has shape {u.shape}; expected ({nd}, *{shape}): "
                         f"one component per axis of the {nd}-D grid")
    if u.dtype not in (np.float32, np.float64):
        u = u.astype(np.float64)
    return u


def _pairs(d):
    return [(i, j) for i in range(d) for j in range(i, d)]


def _symmetric(packed, d):
    """(npairs, *shape) upper-triangle components -> full (d, d, *shape) tensor."""
    out = np.empty((d, d) + packed.shape[1:], dtype=packed.dtype)
    for p, (i, j) in enumerate(_pairs(d)):
        out[i, j] = packed[p]
        if i != j:
            out[j, i] = packed[p]
    return out


def _stress(u, filt, return_filtered=False, full=False):
    """tau (packed upper triangle, or the full symmetric tensor with ``full=True``) and ubar,
    with the minimum number of transforms: d forward + d inverse for ubar, d(d+1)/2 of each
    for the products."""
    d = u.shape[0]
    ubar = filt.apply(u)
    pairs = _pairs(d)
    npair = len(pairs)
    # Fresh memory is expensive to touch (page faults cost as much as a pass of FFT work), so
    # the products live in the first slots of the buffer that later holds the full tensor.
    buf = np.empty(((d * d) if full else npair,) + u.shape[1:], dtype=u.dtype)
    for p, (i, j) in enumerate(pairs):
        np.multiply(u[i], u[j], out=buf[p])
    fprod = filt.apply(buf[:npair])
    if full:
        tau = buf.reshape((d, d) + u.shape[1:])
        for p, (i, j) in enumerate(pairs):
            np.multiply(ubar[i], ubar[j], out=tau[i, j])
            np.subtract(fprod[p], tau[i, j], out=tau[i, j])
        for i, j in pairs:
            if i != j:
                tau[j, i] = tau[i, j]
    else:
        tau = buf
        for p, (i, j) in enumerate(pairs):
            np.multiply(ubar[i], ubar[j], out=tau[p])
            np.subtract(fprod[p], tau[p], out=tau[p])
    return (tau, ubar) if return_filtered else tau


@api(grid_first=True)
def sgs_stress(grid, u, kind="gaussian", width=None, *, return_filtered=False, **options):
    """Residual stress ``tau_ij = bar(u_i u_j) - ubar_i ubar_j`` of a velocity ``(ndim, *shape)``.

    ``kind`` is a filter kind (with ``width``/``options`` as in
    :func:`fieldsolve.make_filter`), a :class:`Filter` or a dict of its arguments.
    Returns the symmetric tensor ``(ndim, ndim, *shape)``; with ``return_filtered=True``
    ``(tau, ubar)``.
    """
    u = _velocity(u, as_decomposition(grid))
    if isinstance(kind, (Filter, dict)):
        if width is not None or options:
            raise ValueError("pass width/options inside the filter specification")
        filt = as_filter(grid, kind)
    else:
        filt = make_filter(grid, kind, width, **options)
    tau, ubar = _stress(u, filt, return_filtered=True, full=True)
    return (tau, ubar) if return_filtered else tau


def _strain_packed(u, decomposition, u_hat=None):
    d, block = decomposition.grid.ndim, decomposition.block
    U = dfft.rfftn(decomposition, u) if u_hat is None else u_hat
    ik = [_ik(block, a).astype(U.dtype) for a in range(d)]
    pairs = _pairs(d)
    S = np.empty((len(pairs),) + block.rfft_shape, dtype=U.dtype)
    for p, (i, j) in enumerate(pairs):
        if i == j:
            np.multiply(ik[j], U[i], out=S[p])
        else:
            S[p] = 0.5 * (ik[j] * U[i] + ik[i] * U[j])
    return dfft.irfftn(decomposition, S, overwrite_input=True)


@api(grid_first=True)
def strain_rate(grid, u):
    """Strain-rate tensor ``S_ij = (d_j u_i + d_i u_j)/2`` (spectral derivatives, Nyquist mode of
    the odd derivative zeroed), shape ``(ndim, ndim, *shape)``."""
    dec = as_decomposition(grid)
    return _symmetric(_strain_packed(_velocity(u, dec), dec), dec.grid.ndim)


def strain_magnitude(S):
    """``|S| = sqrt(2 S_ij S_ij)`` of a full tensor ``(d, d, *shape)``."""
    S = np.asarray(S)
    return np.sqrt(2.0 * np.einsum("ij...,ij...->...", S, S))


def sgs_energy(tau):
    """SGS kinetic energy ``k_r = tau_ii / 2`` (per unit mass)."""
    tau = np.asarray(tau)
    return 0.5 * np.einsum("ii...->...", tau)


def sgs_dissipation(tau, S):
    """SGS dissipation ``Pi = -tau_ij S_ij`` (positive: energy flows to the residual scales)."""
    return -np.einsum("ij...,ij...->...", np.asarray(tau), np.asarray(S))


@api(grid_first=True)
def leonard_stress(grid, ubar, test_filter, **kwargs):
    """Germano's resolved stress ``L_ij = hat(ubar_i ubar_j) - hat(ubar_i) hat(ubar_j)``."""
    return sgs_stress(grid, ubar, as_filter(grid, test_filter, **kwargs))


@api(grid_first=True)
def smagorinsky_stress(grid, ubar, cs, delta):
    """Smagorinsky model ``tau^r_ij = -2 (C_S Delta)^2 |S| S_ij`` (deviatoric)."""
    S = strain_rate(grid, ubar)
    return -2.0 * (cs * delta) ** 2 * strain_magnitude(S) * S


@dataclass(frozen=True)
class DynamicSmagorinsky:
    """Result of the dynamic procedure: ``c`` (= C_S^2 after clipping at 0 when requested),
    ``c_raw`` (unclipped least-squares value), ``cs = sqrt(max(c, 0))``, ``alpha``, ``delta``
    (grid-filter width used in ``M``), and the volume averages ``LM = <L^d_ij M_ij>``,
    ``MM = <M_ij M_ij>``."""

    c: float
    c_raw: float
    cs: float
    alpha: float
    delta: float
    LM: float
    MM: float


@api(grid_first=True)
def dynamic_smagorinsky(grid, ubar, test_filter, grid_filter=None, *, alpha=None, delta=None,
                        clip=True) -> DynamicSmagorinsky:
    """Dynamic Smagorinsky coefficient (Germano et al. 1991 with Lilly's least squares), averaged
    over the whole (homogeneous) volume.

    ``ubar``: grid-filtered velocity ``(ndim, *shape)``. ``test_filter``: Filter or dict.
    ``delta``: grid-filter width ``Delta`` (default ``grid_filter.delta``, Deardorff mean of its
    effective widths). ``alpha = Delta_hat/Delta`` (default
    :func:`fieldsolve.filters.filter_width_ratio` of the two filters). The value used is logged
    and returned.
    """
    dec = as_decomposition(grid)
    grid = dec.grid
    u = _velocity(ubar, dec)
    test = as_filter(dec, test_filter)
    gfilt = None if grid_filter is None else as_filter(dec, grid_filter)
    if delta is None:
        if gfilt is None:
            raise ValueError("give delta= or grid_filter= (the grid-filter width enters M)")
        delta = gfilt.delta
    if alpha is None:
        if gfilt is None:
            raise ValueError("give alpha= or grid_filter= to derive alpha = Delta_hat/Delta")
        alpha = filter_width_ratio(gfilt, test)
    delta, alpha = float(delta), float(alpha)
    if not (delta > 0 and alpha > 0):
        raise ValueError(f"delta={delta} and alpha={alpha} must be > 0")
    log.info("dynamic Smagorinsky: alpha = Delta_hat/Delta = %.6g, Delta = %.6g, test filter %s",
             alpha, delta, test.metadata())
    d = grid.ndim
    pairs = _pairs(d)
    mult = np.array([1.0 if i == j else 2.0 for i, j in pairs])  # off-diagonal pairs count twice
    L, uhat = _stress(u, test, return_filtered=True)
    trace = sum(L[p] for p, (i, j) in enumerate(pairs) if i == j) / d
    for p, (i, j) in enumerate(pairs):
        if i == j:
            L[p] -= trace  # deviatoric part: the model has no isotropic part
    S = _strain_packed(u, dec)
    Smag = np.sqrt(2.0 * np.einsum("p...,p->...", S * S, mult))
    hat_SS = test.apply(Smag * S)
    del S, Smag
    Sh = _strain_packed(uhat, dec)
    Shmag = np.sqrt(2.0 * np.einsum("p...,p->...", Sh * Sh, mult))
    M = 2.0 * delta ** 2 * (hat_SS - alpha ** 2 * Shmag * Sh)
    LM = float(allsum(dec, np.einsum("p...,p->...", L * M, mult).sum(dtype=np.float64)) / grid.size)
    MM = float(allsum(dec, np.einsum("p...,p->...", M * M, mult).sum(dtype=np.float64)) / grid.size)
    if MM == 0.0:
        raise ValueError("<M_ij M_ij> = 0: the filtered velocity has no resolved strain")
    c_raw = LM / MM
    c = max(c_raw, 0.0) if clip else c_raw
    return DynamicSmagorinsky(c, c_raw, float(np.sqrt(max(c, 0.0))), alpha, delta, LM, MM)
