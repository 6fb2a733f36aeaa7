"""Synthetic divergence-free random velocity fields with a prescribed energy spectrum.

Algorithm (periodic grids): white noise is drawn in physical space, plane by plane along axis 0:
plane ``i`` (all components) from its own generator, seeded with the ``i``-th child of
``numpy.random.SeedSequence(seed)`` (spawn key ``(i,)``), so every rank draws its own planes and
the field does not depend on the number of ranks (Hermitian symmetry holds by construction). It
is Fourier transformed, Leray-projected (``u_k <- u_k - k (k.u_k)/|k|^2``), the mean mode and
the Nyquist planes of even axes are zeroed, and the amplitudes are rescaled:

* ``rescale="shell"`` (default): in every shell ``(n-1/2) dk <= |k| < (n+1/2) dk`` the field's
  energy becomes exactly ``E(n dk) dk``, so :func:`fieldsolve.energy_spectrum` returns the model
  at the shell centres;
* ``rescale="mode"``: every mode gets ``1/2 sum_i |u_i,k|^2 = E(|k|) prod_a(2 pi/L_a) / S_d(|k|)``
  with ``S_3 = 4 pi k^2`` (``S_2 = 2 pi k``), i.e. a faithful sample of the continuous spectrum.

Model spectra, normalised so that ``int_0^inf E dk = (d/2) u_rms^2`` (``u_rms`` per component):

* ``passot_pouquet``: ``E = A k^4 / k_p^5 exp(-2 k^2/k_p^2)``, ``A = 16 sqrt(2/pi) u_rms^2``
  in 3-D (the peak is at ``k_p``);
* ``von_karman``: ``E = A (k/k_e)^4 / (1 + (k/k_e)^2)^(17/6) exp(-2 (k/k_eta)^2)``,
  ``k_e = k_peak / sqrt(12/5)`` (peak at ``k_peak`` without the cutoff), ``k_eta`` optional
  (option ``k_eta``, default none), ``A`` by quadrature;
* ``pope``: Pope (2000) eq. 6.246, ``E = C eps^(2/3) k^(-5/3) f_L(k L) f_eta(k eta)``,
  ``C = 1.5, p0 = 2, beta = 5.2``, with ``c_L`` and ``c_eta`` solved so that ``int E = k_t``
  and ``2 nu int k^2 E = eps`` for ``k_t = (3/2) u_rms^2``, ``eps = k_t^(3/2)/L``, ``L`` chosen
  so that ``k^(-5/3) f_L`` peaks at ``k_peak``, and ``nu = (eta^4 eps)^(1/3)`` from the option
  ``eta`` (Kolmogorov length, default ``min(h)/2``). The solved constants are logged.

With ``normalize="field"`` the final field is multiplied by one constant so that its own
``<u.u>/d`` equals ``u_rms^2`` exactly (the shell shape is kept, the absolute level of
``E`` then differs from the continuous model by the discrete-sum error).
"""
from __future__ import annotations

import logging
import math

import numpy as np
from scipy import integrate, optimize

from .filters import _check_grid
from .parallel import dfft
from .parallel.collective import allmax, allsum
from .parallel.layout import as_decomposition
from .power import rfft_mode_weights

__all__ = ["synthetic_turbulence", "model_spectrum", "SPECTRA"]

SPECTRA = ("passot_pouquet", "von_karman", "pope")
log = logging.getLogger(__name__)


def _pope_params(u_rms, k_peak, eta):
    """Solve Pope's c_L, c_eta for given k_t, eps, nu (c_L also sets L through k_peak)."""
    C, p0, beta = 1.5, 2.0, 5.2
    kt = 1.5 * u_rms ** 2

    def shape(k, cL, ceta, L):
        k = np.maximum(k, 1e-12)  # E ~ k^2 at small k: the floor only avoids 0 * inf
        kl = k * L
        fL = (kl / np.sqrt(kl * kl + cL)) ** (5.0 / 3.0 + p0)
        feta = np.exp(-beta * (((k * eta) ** 4 + ceta ** 4) ** 0.25 - ceta))
        return k ** (-5.0 / 3.0) * fL * feta

    def resid(x):
        cL, ceta = np.exp(x)  # keep both positive
        L = math.sqrt(1.2 * cL) / k_peak  # peak of k^(-5/3) f_L(kL) for p0 = 2
        eps = kt ** 1.5 / L
        nu = (eta ** 4 * eps) ** (1.0 / 3.0)
        kmax = 60.0 / eta
        e0 = integrate.quad(lambda k: C * eps ** (2 / 3) * shape(k, cL, ceta, L), 0, kmax,
                            limit=400, points=[k_peak, 1 / eta])[0]
        e2 = integrate.quad(lambda k: 2 * nu * k * k * C * eps ** (2 / 3) * shape(k, cL, ceta, L),
                            0, kmax, limit=400, points=[k_peak, 1 / eta])[0]
        return [math.log(e0 / kt), math.log(e2 / eps)]

    sol = optimize.root(resid, x0=[math.log(6.78), math.log(0.40)], method="hybr")
    if not sol.success or max(abs(r) for r in resid(sol.x)) > 1e-8:
        raise ValueError(f"Pope spectrum: could not solve for c_L, c_eta ({sol.message}); "
                         "check that eta is well below 1/k_peak")
    cL, ceta = np.exp(sol.x)
    L = math.sqrt(1.2 * cL) / k_peak
    eps = kt ** 1.5 / L
    log.info("Pope spectrum: c_L = %.6g, c_eta = %.6g, L = %.6g, eps = %.6g, nu = %.6g",
             cL, ceta, L, eps, (eta ** 4 * eps) ** (1 / 3))
    return lambda k: C * eps ** (2 / 3) * shape(np.asarray(k, dtype=np.float64), cL, ceta, L)


def model_spectrum(spectrum, k_peak, u_rms=1.0, ndim=3, **params):
    """The continuous model ``E(k)`` as a callable, normalised to ``int E dk = (ndim/2) u_rms^2``."""
    if not (k_peak > 0 and u_rms > 0):
        raise ValueError(f"k_peak={k_peak} and u_rms={u_rms} must be > 0")
    target = 0.5 * ndim * u_rms ** 2
    if spectrum == "passot_pouquet":
        if params:
            raise ValueError(f"unexpected options for passot_pouquet: {sorted(params)}")
        # int k^4 exp(-2k^2/kp^2) dk = 3 sqrt(pi/2) kp^5 / 32; this gives 16 sqrt(2/pi) in 3-D.
        A = target * 32.0 / (3.0 * math.sqrt(math.pi / 2.0))
        return lambda k: A * np.asarray(k) ** 4 / k_peak ** 5 * np.exp(-2.0 * (np.asarray(k) / k_peak) ** 2)
    if spectrum == "von_karman":
        k_eta = params.pop("k_eta", None)
        if params:
            raise ValueError(f"unexpected options for von_karman: {sorted(params)}")
        ke = k_peak / math.sqrt(12.0 / 5.0)

        def shape(k):
            k = np.asarray(k, dtype=np.float64)
            out = (k / ke) ** 4 / (1.0 + (k / ke) ** 2) ** (17.0 / 6.0)
            return out if k_eta is None else out * np.exp(-2.0 * (k / k_eta) ** 2)

        norm = integrate.quad(shape, 0, np.inf, limit=400)[0]
        return lambda k: target / norm * shape(k)
    if spectrum == "pope":
        eta = params.pop("eta")
        if params:
            raise ValueError(f"unexpected options for pope: {sorted(params)}")
        if ndim != 3:
            raise ValueError("the Pope model spectrum is three-dimensional")
        E = _pope_params(u_rms, k_peak, eta)
        return E
    raise ValueError(f"unknown spectrum {spectrum!r}; choose from {SPECTRA}")


def synthetic_turbulence(grid, spectrum="passot_pouquet", k_peak=None, u_rms=1.0, seed=None, *,
                         rescale="shell", normalize="spectrum", dtype=np.float64, **params):
    """Random divergence-free velocity ``(ndim, *grid.shape)`` with energy spectrum ``spectrum``.

    ``k_peak``: angular wavenumber of the spectral peak (default ``4 * min(grid.kfundamental)``).
    ``seed``: int, ``SeedSequence`` or None (fresh entropy, logged so the field can be
    reproduced). ``rescale``: ``"shell"`` or ``"mode"``; ``normalize``: ``"spectrum"`` (the
    continuous model sets the level) or ``"field"`` (exact ``u_rms``). See the module docstring.

    ``grid`` may be a :class:`fieldsolve.parallel.Decomposition`: every rank gets its slab
    ``(ndim, *local_shape)`` of the same field (for any number of ranks, to rounding: the shell
    energies are sums over the ranks' Fourier blocks).
    """
    dec = as_decomposition(grid)
    grid = dec.grid
    _check_grid(grid)
    d = grid.ndim
    if d < 2:
        raise ValueError("a divergence-free field needs a grid of at least 2 dimensions")
    if rescale not in ("shell", "mode"):
        raise ValueError(f"rescale={rescale!r}; choose 'shell' or 'mode'")
    if normalize not in ("spectrum", "field"):
        raise ValueError(f"normalize={normalize!r}; choose 'spectrum' or 'field'")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError("dtype must be float32 or float64")
    dk = min(grid.kfundamental)
    if k_peak is None:
        k_peak = 4.0 * dk
    if spectrum == "pope":
        params.setdefault("eta", 0.5 * min(grid.spacing))
    E = model_spectrum(spectrum, float(k_peak), float(u_rms), d, **params)

    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    if seed is None:
        if dec.split:  # one field: rank 0's fresh entropy on every rank
            ss = np.random.SeedSequence(dec.comm.bcast(ss.entropy, root=0))
        log.info("synthetic_turbulence: seed=None, SeedSequence entropy = %d", ss.entropy)
    U = dfft.rfftn(dec, _noise(ss, d, grid.shape[1:], dec.start, dec.stop))

    block = dec.block
    kv = block.kvectors(rfft=True)
    k2 = block.k2(rfft=True)
    k2safe = np.where(k2 > 0, k2, 1.0)
    div = sum(k * U[a] for a, k in enumerate(kv)) / k2safe
    for a, k in enumerate(kv):
        U[a] -= k * div  # Leray projection
    del div
    keep = (k2 > 0) & ~block.nyquist_mask()
    U *= keep

    w = rfft_mode_weights(block)
    # energy per mode with the u_k = DFT/N convention, twins counted
    e = 0.5 * (np.abs(U) ** 2).sum(axis=0) * w / grid.size ** 2
    kmag = np.sqrt(k2)
    if rescale == "shell":
        shell = np.floor(kmag / dk + 0.5).astype(np.int64)
        nshell = int(allmax(dec, shell.max(initial=0))) + 1  # the same bins on every rank
        have = allsum(dec, np.bincount(shell.ravel(), weights=e.ravel(), minlength=nshell))
        want = E(np.arange(have.size) * dk) * dk
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(have > 0, np.sqrt(want / np.where(have > 0, have, 1.0)), 0.0)
        scale = factor[shell]
    else:
        sphere = {2: 2.0 * np.pi * kmag, 3: 4.0 * np.pi * kmag ** 2}[d] if d in (2, 3) else None
        if sphere is None:
            raise ValueError("rescale='mode' is defined for 2-D and 3-D grids")
        target = E(kmag) * math.prod(grid.kfundamental) / np.where(keep, sphere, 1.0) * w
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(keep & (e > 0), np.sqrt(target / np.where(e > 0, e, 1.0)), 0.0)
    U *= scale
    u = dfft.irfftn(dec, U, overwrite_input=True)
    if normalize == "field":
        u *= u_rms / math.sqrt(allsum(dec, float(np.sum(u * u))) / (d * grid.size))
    return u.astype(dtype, copy=False)


def _noise(ss, ncomp, plane_shape, start, stop):
    """White noise ``(ncomp, stop - start, *plane_shape)`` for the axis-0 planes ``start..stop-1``:
    plane ``i`` from the generator of ``ss``'s child ``i`` (its spawn key extended by ``i``, as
    ``ss.spawn`` would make it, without changing ``ss``), so a rank draws only its own planes."""
    out = np.empty((ncomp, stop - start) + tuple(plane_shape))
    for i in range(start, stop):
        child = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (i,), pool_size=ss.pool_size)
        out[:, i - start] = np.random.default_rng(child).standard_normal((ncomp,) + tuple(plane_shape))
    return out
