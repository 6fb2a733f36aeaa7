"""Isotropic power spectrum of a mesh field (the cosmologist's first diagnostic of a PM mesh).

Normalisation (continuous Fourier convention): ``delta(k) = (V / N_cells) * DFT(delta)`` and
``P(k) = |delta(k)|^2 / V``, so a Poisson sample of ``N`` particles has white-noise power
``V / N`` (before window effects). Bins are shells in ``|k|``; each rfft mode is counted with its
Hermitian twin (weight 2) except on the ``k_last = 0`` and Nyquist planes (weight 1).

Binning rule (exact for the usual boxes): when every box length divides the longest one, each
mode has an integer ``q = |k|^2 / k_F^2`` (``k_F = 2 pi / max(box)``) and is placed by integer
comparison: an edge ``e`` becomes ``Q = (e / k_F)^2``, rounded to the nearest integer when it is
within ``1e-9`` of one (so edges placed at mode radii, e.g. exact multiples of ``k_F``, are
exact), and the mode goes to bin ``b`` when ``Q_b <= q < Q_{b+1}``: the half-open shells
``e_b <= |k| < e_{b+1}`` of ``numpy.digitize`` evaluated without rounding. Other boxes compare
``|k|`` with the edges in floating point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fft
from ._compat import api
from .kernels.windows import get_window
from .parallel import dfft
from .parallel.collective import agreed, allsum
from .parallel.layout import as_decomposition

__all__ = ["PowerSpectrum", "power_spectrum", "rfft_mode_weights", "shell_average"]

_SNAP = 1e-9  # relative distance of (edge / k_F)^2 to an integer below which it is that integer
_CHUNKS = 64  # fixed slabs of the binning pass (results independent of the thread count)


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
    """Multiplicity of each rfft-layout mode in the full spectrum (1 or 2); on a block of the
    layout (:class:`fieldsolve.parallel.GridBlock`) that block's."""
    last = grid.mode_numbers(grid.ndim - 1, rfft=True)  # the global indices of the halved axis
    return np.broadcast_to(_last_axis_weights(grid.shape[-1])[last], grid.rfft_shape)


def _last_axis_weights(n):
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def _integer_bins(grid, kedges):
    """The exact binning rule (module doc): ``(lut, kq, ratios)`` with ``lut[q]`` the bin of
    integer ``q = |k|^2 / k_F^2`` (-1 outside) and ``kq[q] = |k|``, or ``None`` when the box
    lengths are not integer fractions of the longest one."""
    longest = max(grid.box)
    ratios = [longest / b for b in grid.box]
    ints = [int(round(r)) for r in ratios]
    if any(abs(r - i) > _SNAP * r for r, i in zip(ratios, ints)):
        return None
    kf = 2 * np.pi / longest
    qmax = sum((i * (n // 2)) ** 2 for i, n in zip(ints, grid.shape))
    x = np.asarray(kedges, dtype=np.float64) / kf
    Q = np.sign(x) * x * x
    nearest = np.rint(Q)
    Q = np.where(np.abs(Q - nearest) <= _SNAP * np.maximum(np.abs(Q), 1.0), nearest, Q)
    lut = np.searchsorted(np.ceil(Q), np.arange(qmax + 1), side="right") - 1
    lut[lut >= len(Q) - 1] = -1
    return lut.astype(np.int64), kf * np.sqrt(np.arange(qmax + 1.0)), ints


def _bin_index(grid, kedges):
    """Bin of every rfft-layout mode (-1 outside the edges), by the module's rule."""
    rule = _integer_bins(grid, kedges)
    if rule is None:
        idx = np.digitize(np.sqrt(grid.k2(rfft=True)), kedges) - 1
        idx[idx >= len(kedges) - 1] = -1
        return idx
    lut, _, ints = rule
    q = 0
    for a, r in enumerate(ints):
        m = grid.mode_numbers(a, rfft=True) * r
        view = [1] * grid.ndim
        view[a] = m.size
        q = q + (m * m).reshape(view)
    return lut[np.broadcast_to(q, grid.rfft_shape)]


@api(grid_first=True)
def shell_average(grid, values, kedges):
    """Mode-weighted shell sums of ``values`` (rfft layout): returns ``(k_mean, sum, modes)``.
    Shells follow the module's binning rule. On a decomposed grid (a
    :class:`fieldsolve.parallel.Decomposition` for ``grid``) ``values`` is this rank's Fourier
    block and every rank gets the sums over all ranks."""
    d = as_decomposition(grid)
    b = d.block
    kmag = np.sqrt(b.k2(rfft=True)).ravel()
    wts = rfft_mode_weights(b).ravel()
    idx = _bin_index(b, np.asarray(kedges, dtype=np.float64)).ravel()
    keep = idx >= 0
    nb = len(kedges) - 1
    modes = np.bincount(idx[keep], weights=wts[keep], minlength=nb)
    ksum = np.bincount(idx[keep], weights=(wts * kmag)[keep], minlength=nb)
    vsum = np.bincount(idx[keep], weights=(wts * np.asarray(values).ravel())[keep], minlength=nb)
    modes, ksum, vsum = allsum(d, np.array([modes, ksum, vsum]))
    return _mean_k(ksum, modes), vsum, modes


def _mean_k(ksum, modes):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(modes > 0, ksum / np.where(modes > 0, modes, 1), np.nan)


def _forward(f, grid):
    """``rfftn(f)`` in float64 with one complex array of memory: transformed in place in the
    real view of that array (FFTW's padded r2c layout) after a casting copy of ``f``, or out
    of place without the copy when ``f`` is float64, contiguous and aligned for SIMD."""
    pyfftw = None
    if fft.get_backend() == "pyfftw":
        import pyfftw
    if (f.dtype == np.float64 and f.flags.c_contiguous
            and (pyfftw is None or pyfftw.is_byte_aligned(f))):
        return fft.rfftn(f)
    n = grid.shape[-1]
    X = (pyfftw.empty_aligned if pyfftw else np.empty)(grid.rfft_shape, np.complex128)
    real = X.view(np.float64)[..., :n]
    real[...] = f
    return fft.execute("r2c", real, X, tuple(range(grid.ndim)))


def _axis_tables(grid, window, compensation, integer_ratios, block=None):
    """Per-axis tables of :func:`fieldsolve._power_jit.binned_power` (padded to 3 axes) and
    its window mode: 0 none, 1 divide by ``W^2`` (``"sinc"``), 2 by the alias sum. ``block``
    (slices per axis, a rank's Fourier block): each axis's row starts at the block's index 0."""
    nd = grid.ndim
    nmax = max(grid.rfft_shape)
    sq, nyq = np.zeros((3, nmax)), np.zeros((3, nmax))
    div, alias, alt, weight = (np.ones((3, nmax)) for _ in range(4))
    w = None if window is None else get_window(window)
    for a in range(nd):
        row, n, h = a + 3 - nd, grid.shape[a], grid.spacing[a]
        k = grid.wavenumbers(a, rfft=True)
        m = grid.mode_numbers(a, rfft=True)
        sq[row, :k.size] = (m * integer_ratios[a]) ** 2 if integer_ratios else k * k
        if w is not None:
            alias[row, :k.size] = w.alias_sum(k, h)
            alt[row, :k.size] = w.alias_sum_alternating(k, h)
            div[row, :k.size] = (w.transfer_1d(k, h) ** 2 if compensation == "sinc"
                                 else alias[row, :k.size])
        if n % 2 == 0:
            nyq[row, n // 2] = 1.0
    weight[2, :grid.rfft_shape[-1]] = _last_axis_weights(grid.shape[-1])
    mode = 0 if w is None else (1 if compensation == "sinc" else 2)
    tables = (sq, div, alias, alt, nyq, weight)
    for a, s in enumerate(block or ()):
        row = a + 3 - nd
        for t in tables:
            t[row, :s.stop - s.start] = t[row, s.start:s.stop].copy()
    return tables, mode


@api(grid_first=True, renamed={"scheme": "window"})
def power_spectrum(grid, field, *, kedges=None, window=None, interlaced=False,
                   compensation="sinc", shot_noise=None, overdensity=True):
    """Power spectrum ``P(k)`` of a periodic mesh field.

    Memory: one complex rfft array (about one float64 mesh) beyond the input. The field is
    transformed as given and the mean divided out per mode; compensation, shot noise and
    binning are one compiled pass over the half spectrum.

    On a decomposed grid (a :class:`fieldsolve.parallel.Decomposition` for ``grid``) ``field``
    is this rank's slab: its Fourier block is binned and the bin sums are added over the ranks
    (same bins and edge rule); every rank gets the whole spectrum.

    Parameters
    ----------
    field : array ``grid.shape`` (a density from :func:`fieldsolve.deposit`), float32 or
        float64 (transformed in float64 either way).
    kedges : shell edges in angular wavenumber; default: width ``k_f = 2 pi / max(box)`` from
        ``k_f/2`` up to the smallest Nyquist wavenumber. Modes are binned by the exact rule of
        the module doc: ``e_b <= |k| < e_{b+1}``, decided on integers ``|k|^2 / k_F^2`` (edges
        within 1e-9 of a mode radius count as on it), so edges at exact multiples of ``k_F``
        never move modes between bins by rounding.
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
    from ._power_jit import binned_power

    d = as_decomposition(grid)
    grid = d.grid
    f = agreed(d, _check_shape, field, d.local_shape)
    if not grid.all_periodic:
        raise ValueError("power_spectrum needs a periodic grid on every axis")
    if compensation not in ("sinc", "aliased"):
        raise ValueError(f"compensation={compensation!r}; allowed: 'sinc', 'aliased'")
    if kedges is None:
        kf = min(grid.kfundamental)
        kedges = np.arange(0.5 * kf, min(grid.nyquist) + 0.5 * kf, kf)
    kedges = np.asarray(kedges, dtype=np.float64)
    if kedges.ndim != 1 or kedges.size < 2 or np.any(np.diff(kedges) <= 0):
        raise ValueError("kedges must be an increasing 1-D array of at least 2 edges")
    if f.dtype not in (np.float32, np.float64):
        f = f.astype(np.float64)
    X = dfft.rfftn(d, f.astype(np.float64, copy=False)) if d.split else _forward(f, grid)
    # the plain sum, on the rank holding k = 0: non-finite if any value is (free NaN check)
    total = allsum(d, X.flat[0].real if d.block.holds_origin else 0.0)
    if not np.isfinite(total):
        raise ValueError("field contains NaN or infinite values (or its sum overflows)")
    scale = grid.volume / float(grid.size) ** 2
    if overdensity:
        mean = total / grid.size
        if mean == 0:
            raise ValueError("overdensity=True but the field has zero mean")
        scale /= mean * mean  # delta(k) = DFT(field)(k) / mean for k != 0, and 0 at k = 0
    rule = _integer_bins(grid, kedges)
    lut, kq, ints = rule if rule is not None else (np.empty(0, np.int64), np.empty(0), None)
    tables, mode = _axis_tables(grid, window, compensation, ints, d.k_slices if d.split else None)
    shot = 0.0 if shot_noise is None else float(shot_noise)
    X3 = X.view(np.float64).reshape((1,) * (3 - grid.ndim) + d.block.rfft_shape + (2,))
    nb = kedges.size - 1
    acc = np.zeros((min(_CHUNKS, X3.shape[0]), 3, nb))
    binned_power(X3, *tables, scale, bool(overdensity and d.block.holds_origin), mode, shot,
                 bool(interlaced), lut, kq, kedges, acc)
    del X, X3
    modes, ksum, psum = allsum(d, acc.sum(axis=0))
    return PowerSpectrum(_mean_k(ksum, modes), _mean_k(psum, modes), modes, kedges,
                         0.0 if shot_noise is None else shot_noise)


def _check_shape(field, shape):
    f = np.asarray(field)
    if f.shape != shape:
        raise ValueError(f"field has shape {f.shape}; expected {shape}")
    return f
