"""Isotropic power spectrum of a mesh field (the cosmologist's first diagnostic of a PM mesh).

Normalisation (continuous Fourier convention): ``delta(k) = (V / N_cells) * DFT(delta)`` and
``P(k) = |delta(k)|^2 / V``, so a Poisson sample of ``N`` particles has white-noise power
``V / N`` (before window effects). Bins are shells in ``|k|``; each rfft mode is counted with its
Hermitian twin (weight 2) except on the ``k_last = 0`` and Nyquist planes (weight 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fft
from ._compat import api
from .kernels.windows import window_alias_sum, window_transfer

__all__ = ["PowerSpectrum", "power_spectrum", "rfft_mode_weights", "shell_average"]


@dataclass(frozen=True)
class PowerSpectrum:
    """Binned spectrum: ``k`` (mode-weighted mean ``|k|`` per bin), ``power``, ``modes`` (number of
    Fourier modes, Hermitian twins included), ``kedges`` and the ``shot_noise`` subtracted."""

    k: np.ndarray
    power: np.ndarray
    modes: np.ndarray
    kedges: np.ndarray
    shot_noise: float


def rfft_mode_weights(grid) -> np.ndarray:
    """Multiplicity of each rfft-layout mode in the full spectrum (1 or 2)."""
    n = grid.shape[-1]
    w = np.full(grid.rfft_shape[-1], 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return np.broadcast_to(w, grid.rfft_shape)


@api(grid_first=True)
def shell_average(grid, values, kedges):
    """Mode-weighted shell sums of ``values`` (rfft layout): returns ``(k_mean, sum, modes)``."""
    kmag = np.sqrt(grid.k2(rfft=True)).ravel()
    wts = rfft_mode_weights(grid).ravel()
    idx = np.digitize(kmag, kedges) - 1
    keep = (idx >= 0) & (idx < len(kedges) - 1)
    nb = len(kedges) - 1
    modes = np.bincount(idx[keep], weights=wts[keep], minlength=nb)
    ksum = np.bincount(idx[keep], weights=(wts * kmag)[keep], minlength=nb)
    vsum = np.bincount(idx[keep], weights=(wts * np.asarray(values).ravel())[keep], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        kmean = np.where(modes > 0, ksum / np.where(modes > 0, modes, 1), np.nan)
    return kmean, vsum, modes


@api(grid_first=True, renamed={"scheme": "window"})
def power_spectrum(grid, field, *, kedges=None, window=None, interlaced=False,
                   compensation="sinc", shot_noise=None, overdensity=True):
    """Power spectrum ``P(k)`` of a periodic mesh field.

    Parameters
    ----------
    field : array ``grid.shape`` (a density from :func:`fieldsolve.deposit`).
    kedges : shell edges in angular wavenumber; default: width ``k_f = 2 pi / max(box)`` from
        ``k_f/2`` up to the smallest Nyquist wavenumber.
    window : window used to deposit the field (``"cic"``...), to be compensated; ``None`` for none.
    interlaced : the field was deposited with ``interlace=True`` (odd aliases already removed).
    compensation : ``"sinc"`` divides by ``W(k)`` (right for interlaced fields);
        ``"aliased"`` divides by ``sqrt(sum_n W^2(k + 2 pi n/h))`` (Jing 2005; for shot-noise
        dominated, non-interlaced fields).
    shot_noise : ``None``, or the white-noise level to subtract, usually ``grid.volume / N``.
        With ``compensation="sinc"`` it is subtracted as ``shot_noise * C(k) / W(k)^2``, the
        aliased form it actually takes (``C`` the alias sum over the images the deposit keeps:
        all, or the even ones when ``interlaced``); otherwise as a constant.
    overdensity : analyse ``field / mean - 1`` (default) instead of the field itself.
    """
    f = np.asarray(field, dtype=np.float64)
    if f.shape != grid.shape:
        raise ValueError(f"field has shape {f.shape}; expected {grid.shape}")
    if not grid.all_periodic:
        raise ValueError("power_spectrum needs a periodic grid on every axis")
    if not np.isfinite(f).all():
        raise ValueError("field contains NaN or infinite values")
    if compensation not in ("sinc", "aliased"):
        raise ValueError(f"compensation={compensation!r}; allowed: 'sinc', 'aliased'")
    if overdensity:
        mean = f.mean()
        if mean == 0:
            raise ValueError("overdensity=True but the field has zero mean")
        f = f / mean - 1.0
    dk = fft.rfftn(f) * (grid.volume / grid.size)
    pk = (dk.real ** 2 + dk.imag ** 2) / grid.volume
    window_factor = 1.0
    if window is not None:
        if compensation == "aliased":
            window_factor = window_alias_sum(grid, window)
        else:
            window_factor = window_transfer(grid, window) ** 2
        pk = pk / window_factor
    if shot_noise is not None:
        shot_noise = float(shot_noise)
        if window is not None and compensation == "sinc":
            pk = pk - shot_noise * window_alias_sum(grid, window, interlaced=interlaced) / window_factor
        else:
            pk = pk - shot_noise
    if kedges is None:
        kf = min(grid.kfundamental)
        kedges = np.arange(0.5 * kf, min(grid.nyquist) + 0.5 * kf, kf)
    kedges = np.asarray(kedges, dtype=np.float64)
    if kedges.ndim != 1 or kedges.size < 2 or np.any(np.diff(kedges) <= 0):
        raise ValueError("kedges must be an increasing 1-D array of at least 2 edges")
    kmean, psum, modes = shell_average(grid, pk, kedges)
    with np.errstate(invalid="ignore", divide="ignore"):
        power = np.where(modes > 0, psum / np.where(modes > 0, modes, 1), np.nan)
    return PowerSpectrum(kmean, power, modes, kedges, 0.0 if shot_noise is None else shot_noise)
