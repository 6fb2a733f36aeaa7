"""Kinetic-energy spectra, spectral derivatives and dealiasing on periodic grids.

Spectrum convention: ``u_k = DFT(u) / N`` (``N`` = number of cells), so that
``sum_k 1/2 |u_k|^2 = 1/2 <u.u>`` (Parseval). With the real-FFT layout each mode
``0 < k_last < n/2`` stands for itself and its Hermitian twin and is counted twice
(:func:`fieldsolve.power.rfft_mode_weights`). Wavenumbers are physical and angular,
``k_a = 2 pi m_a / L_a``; shells have width ``dk = min_a 2 pi / L_a``.

Binning (``binning=``):

* ``"shell_sum"`` (default, Parseval-exact): ``E(k_n) = (1/dk) sum_{(n-1/2) dk <= |k| <
  (n+1/2) dk} 1/2 |u_k|^2``, ``k_n = n dk`` for ``n = 0, 1, ...`` up to the corner modes
  ``|k| = sqrt(sum_a (pi/h_a)^2)``, so ``sum_n E(k_n) dk = 1/2 <u.u>`` exactly (the ``n = 0``
  bin holds the mean flow).
* ``"shell_average"``: mean of ``1/2 |u_k|^2`` over the modes of the shell times the number of
  modes a continuum shell would hold, ``V_shell / prod_a (2 pi / L_a)`` (``V_shell`` the volume
  of the spherical shell; in 2-D its area), divided by ``dk``. It smooths lattice shell-count noise
  but is *not* Parseval-exact.

Dealiasing (Orszag's 2/3 rule): keep ``|m_a| <= K_a = floor((n_a - 1)/3)`` on **every** axis
(a mode is dropped if *any* component exceeds ``K_a``); quadratic products of such fields are
then alias-free on the retained modes. Alternatively :func:`padded_product` evaluates products on
a grid of ``>= 3n/2`` points per axis.

Decomposed grids: :func:`mode_energy`, :func:`shell_spectrum`, :func:`energy_spectrum` and
:func:`derivative` take a :class:`fieldsolve.parallel.Decomposition` in place of the grid, this
rank's slabs as fields and its Fourier block as per-mode values; spectra are summed over the
ranks (every rank gets them whole).
"""
from __future__ import annotations

import math

import numpy as np
from ._compat import api

from . import fft
from .filters import _check_grid, _real_field
from .grid import signed_modes
from .kernels.differencing import differencing_symbols
from .parallel import dfft
from .parallel.collective import agreed
from .parallel.layout import as_decomposition
from .power import rfft_mode_weights, shell_average

__all__ = ["mode_energy", "shell_spectrum", "energy_spectrum", "dealias_mask", "dealias",
           "pad_spectrum", "truncate_spectrum", "padded_product", "derivative"]


@api(grid_first=True)
def mode_energy(grid, u):
    """Energy ``1/2 sum_i |u_i,k|^2`` of every rfft-layout mode, Hermitian twins included
    (weight 1 or 2), ``u_k = DFT(u)/N``; ``u`` is ``grid.shape`` (a scalar) or ``(C, *shape)``.
    Its total equals ``1/2 <u.u>``."""
    dec = as_decomposition(grid)
    grid = dec.grid
    _check_grid(grid)
    f = agreed(dec, _real_field, u, grid, dec.local_shape)
    if f.ndim not in (grid.ndim, grid.ndim + 1):
        raise ValueError(f"u has shape {f.shape}; expected {grid.shape} or (C, *{grid.shape})")
    X = dfft.rfftn(dec, f.astype(np.float64, copy=False))
    e = X.real ** 2 + X.imag ** 2
    if f.ndim > grid.ndim:
        e = e.sum(axis=0)
    return e * (0.5 / grid.size ** 2) * rfft_mode_weights(dec.block)


def _dk(grid):
    return min(grid.kfundamental)


@api(grid_first=True)
def shell_spectrum(grid, values, binning="shell_sum"):
    """Bin per-mode energies ``values`` (rfft layout, twins already weighted as returned by
    :func:`mode_energy`) into shells ``n dk``; returns ``(k_n, E_n)``. See the module docstring."""
    dec = as_decomposition(grid)
    grid = dec.grid
    _check_grid(grid)
    values = agreed(dec, _rfft_values, values, dec.block.rfft_shape)
    dk = _dk(grid)
    kmax = math.sqrt(sum(k * k for k in grid.nyquist))
    nmax = int(math.floor(kmax / dk + 0.5)) + 1
    n = np.arange(nmax + 1)
    edges = (np.arange(nmax + 2) - 0.5) * dk
    # shell_average weights each value by its multiplicity, but ours are already weighted.
    w = rfft_mode_weights(dec.block)
    _, sums, modes = shell_average(dec, values / w, edges)
    k = n * dk
    if binning == "shell_sum":
        return k, sums / dk
    if binning == "shell_average":
        lo, hi = np.maximum(edges[:-1], 0.0), edges[1:]
        d = grid.ndim
        ball = {1: 2.0, 2: math.pi, 3: 4.0 * math.pi / 3.0}[d]
        expected = ball * (hi ** d - lo ** d) / math.prod(grid.kfundamental)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(modes > 0, sums / np.where(modes > 0, modes, 1), 0.0)
        return k, mean * expected / dk
    raise ValueError(f"binning={binning!r}; choose 'shell_sum' or 'shell_average'")


def _rfft_values(values, shape):
    values = np.asarray(values, dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"values have shape {values.shape}; expected the rfft layout {shape}")
    return values


@api(grid_first=True)
def energy_spectrum(grid, u, binning="shell_sum"):
    """Kinetic-energy spectrum ``(k, E)`` of a periodic velocity field ``u`` of shape
    ``(C, *grid.shape)`` (or a scalar field, giving the spectrum of ``1/2 phi^2``).

    With ``binning="shell_sum"``, ``sum(E) * dk == 1/2 <u.u>`` exactly, ``dk = k[1] - k[0]``;
    the bins run through the corner modes beyond the smallest Nyquist wavenumber (slice
    ``k <= min(grid.nyquist)`` for the usual plot)."""
    return shell_spectrum(grid, mode_energy(grid, u), binning)


# --------------------------------------------------------------------------------------------
# dealiasing
# --------------------------------------------------------------------------------------------
def _mode_numbers(grid):
    """Integer mode numbers per axis, broadcastable to the rfft layout."""
    out = []
    for a in range(grid.ndim):
        m = grid.mode_numbers(a, rfft=True)
        view = [1] * grid.ndim
        view[a] = m.size
        out.append(m.reshape(view))
    return out


@api(whole_grid=True)
def dealias_mask(grid, rule="2/3"):
    """Boolean rfft-layout mask of the retained modes: ``|m_a| <= floor((n_a - 1)/3)`` on every
    axis (``rule="2/3"``)."""
    _check_grid(grid)
    if rule != "2/3":
        raise ValueError(f"rule={rule!r}; the mask rule is '2/3' (use padded_product for 3/2)")
    keep = np.ones(grid.rfft_shape, dtype=bool)
    for m, n in zip(_mode_numbers(grid), grid.shape):
        keep &= np.abs(m) <= (n - 1) // 3
    return keep


@api(grid_first=True, whole_grid=True)
def dealias(grid, field_k, rule="2/3"):
    """Copy of the rfft-layout spectrum ``field_k`` (``(..., *grid.rfft_shape)``) with the modes
    outside the 2/3-rule cube set to zero."""
    X = np.asarray(field_k)
    if X.shape[X.ndim - grid.ndim:] != grid.rfft_shape:
        raise ValueError(f"field_k has shape {X.shape}; expected (..., *{grid.rfft_shape})")
    return np.where(dealias_mask(grid, rule), X, 0)


def _axis_map(n_small, n_big):
    """Indices of the small grid's fftfreq modes in a big grid's fftfreq order."""
    m = signed_modes(n_small)
    return np.where(m >= 0, m, m + n_big)


@api(grid_first=True, whole_grid=True)
def pad_spectrum(grid, field_k, shape):
    """Zero-pad an rfft-layout spectrum of ``grid`` to a larger real ``shape`` (same box), keeping
    the normalisation of :func:`fieldsolve.fft.irfftn` (values scale by ``prod(shape)/N``) so the
    padded field interpolates the original. An even-``n`` Nyquist mode is split evenly between
    ``+n/2`` and ``-n/2`` to keep the padded field real and equal at the original points."""
    X = np.asarray(field_k)
    d = grid.ndim
    shape = tuple(int(s) for s in shape)
    if len(shape) != d or any(s < n for s, n in zip(shape, grid.shape)):
        raise ValueError(f"pad shape {shape} must be >= {grid.shape} on every axis")
    lead = X.shape[:X.ndim - d]
    out_shape = lead + shape[:-1] + (shape[-1] // 2 + 1,)
    Y = np.zeros(out_shape, dtype=np.result_type(X.dtype, np.complex64))
    Xs = X * (math.prod(shape) / grid.size)
    for a, (n, s) in enumerate(zip(grid.shape, shape)):
        if n % 2 == 0 and s > n:
            # split the Nyquist plane: half at +n/2 (appended), half stays at -n/2
            ax = len(lead) + a
            idx = [slice(None)] * Xs.ndim
            idx[ax] = slice(n // 2, n // 2 + 1)
            half = 0.5 * Xs[tuple(idx)]
            Xs = Xs.copy()
            Xs[tuple(idx)] = half
            if a < d - 1:
                Xs = np.concatenate([Xs, half], axis=ax)  # +n/2 copy, placed below
    sel = []
    for a, (n, s) in enumerate(zip(grid.shape, shape)):
        if a < d - 1:
            idx = _axis_map(n, s)
            if n % 2 == 0 and s > n:
                idx = np.concatenate([idx, [n // 2]])  # the appended +n/2 half
            sel.append(idx)
        else:
            sel.append(np.arange(n // 2 + 1))
    Y[(Ellipsis,) + tuple(np.ix_(*sel))] = Xs
    return Y


@api(grid_first=True, whole_grid=True)
def truncate_spectrum(grid, field_k, shape):
    """Inverse of :func:`pad_spectrum`: keep the modes ``|m_a| < n_a/2`` of a spectrum of real
    ``shape`` on ``grid`` (rescaled by ``N/prod(shape)``); the Nyquist modes of ``grid`` are set
    to zero (a product's Nyquist content has no sign and is usually dropped)."""
    Y = np.asarray(field_k)
    d = grid.ndim
    shape = tuple(int(s) for s in shape)
    sel = []
    for a, (n, s) in enumerate(zip(grid.shape, shape)):
        sel.append(_axis_map(n, s) if a < d - 1 else np.arange(n // 2 + 1))
    X = Y[(Ellipsis,) + tuple(np.ix_(*sel))] * (grid.size / math.prod(shape))
    for a, n in enumerate(grid.shape):
        if n % 2 == 0:
            idx = [slice(None)] * X.ndim
            idx[X.ndim - d + a] = n // 2
            X[tuple(idx)] = 0
    return X


@api(grid_first=True, whole_grid=True)
def padded_product(grid, a_k, b_k, factor=1.5):
    """Dealiased spectrum of the product ``a b`` by zero padding to ``ceil(factor n)`` points per
    axis (``factor >= 3/2`` makes the retained modes alias-free). Inputs and output are rfft
    layout spectra on ``grid`` (``fieldsolve.fft`` normalisation); output Nyquist modes are zero."""
    if factor < 1.5:
        raise ValueError(f"factor={factor} < 3/2 does not remove quadratic aliases")
    shape = tuple(int(math.ceil(factor * n)) for n in grid.shape)
    d = grid.ndim
    A = np.asarray(a_k)
    axes = tuple(range(A.ndim - d, A.ndim))
    a = fft.irfftn(pad_spectrum(grid, A, shape), shape, axes=axes, overwrite_input=True)
    b = fft.irfftn(pad_spectrum(grid, b_k, shape), shape, axes=axes, overwrite_input=True)
    return truncate_spectrum(grid, fft.rfftn(a * b, axes=axes), shape)


@api(grid_first=True)
def derivative(grid, field, axis, order=1):
    """Spectral derivative ``d^order f / dx_axis^order`` of a periodic field (``grid.shape`` or
    ``(C, *shape)``). For odd orders the Nyquist mode of an even axis is zeroed (it has no sign)."""
    dec = as_decomposition(grid)
    grid = dec.grid
    _check_grid(grid)
    f = agreed(dec, _real_field, field, grid, dec.local_shape)
    axis = grid._axis(axis)
    X = dfft.rfftn(dec, f)
    X *= _ik(dec.block, axis, order).astype(X.dtype)
    return dfft.irfftn(dec, X, overwrite_input=True)


def _ik(grid, axis, order=1):
    # an odd derivative has no sign on the Nyquist plane: the spectral gradient kernel zeroes it
    k = differencing_symbols(grid, "spectral")[axis] if order % 2 else grid.kvectors(rfft=True)[axis]
    return (1j * k) ** order
