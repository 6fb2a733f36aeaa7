"""Energy spectra (Parseval, rfft doubling, anisotropic boxes), filtered spectra, dealiasing."""
import math

import numpy as np
import pytest

from fieldsolve import Grid, fft
from fieldsolve.filters import make_filter
from fieldsolve.power import rfft_mode_weights
from fieldsolve.spectra import (dealias, dealias_mask, energy_spectrum, mode_energy,
                                pad_spectrum, padded_product, shell_spectrum, truncate_spectrum)


def _bruteforce_spectrum(u, grid):
    """Full complex FFT with numpy (no Hermitian doubling) and explicit rint shells."""
    N = grid.size
    uk = np.fft.fftn(u, axes=(1, 2, 3)) / N
    e = 0.5 * (np.abs(uk) ** 2).sum(axis=0)
    ks = np.meshgrid(*(2 * np.pi * np.fft.fftfreq(n, h) for n, h in zip(grid.shape, grid.spacing)),
                     indexing="ij")
    kmag = np.sqrt(sum(k * k for k in ks))
    dk = min(grid.kfundamental)
    shell = np.floor(kmag / dk + 0.5).astype(int)
    return np.bincount(shell.ravel(), weights=e.ravel()) / dk


@pytest.mark.parametrize("shape,box", [((16, 16, 16), 2 * np.pi), ((16, 12, 9), (2 * np.pi, 3.0, 1.5)),
                                       ((15, 15, 15), 1.0)])
def test_parseval_and_bruteforce_agreement(shape, box, rng):
    g = Grid(shape, box)
    u = rng.standard_normal((3,) + shape) + 0.3  # a mean flow lands in the k = 0 bin
    k, E = energy_spectrum(g, u)
    dk = k[1] - k[0]
    assert dk == pytest.approx(min(g.kfundamental), rel=1e-15)
    total = 0.5 * np.mean(np.sum(u * u, axis=0))
    assert abs(E.sum() * dk - total) < 1e-13 * total
    ref = _bruteforce_spectrum(u, g)
    np.testing.assert_allclose(E[:ref.size], ref, rtol=0, atol=1e-13 * E.max())
    assert np.all(E[ref.size:] == 0)
    # corner modes beyond the smallest Nyquist are included (Parseval needs them)
    assert E[k > min(g.nyquist) + dk].sum() > 0
    # scalar field: spectrum of phi^2 / 2
    ks, Es = energy_spectrum(g, u[0])
    assert abs(Es.sum() * dk - 0.5 * np.mean(u[0] ** 2)) < 1e-13


def test_mode_energy_weights_and_lattice_shell_counts():
    g = Grid((32, 32, 32), 2 * np.pi)
    # counting modes: weights per rfft mode, shell sum of the multiplicities
    k, count = shell_spectrum(g, np.asarray(rfft_mode_weights(g)))
    count = count * (k[1] - k[0])
    # lattice populations of rint shells at N = 32 (reference values)
    np.testing.assert_array_equal(np.rint(count[1:7]), [18, 62, 98, 210, 350, 450])
    assert count.sum() == pytest.approx(32 ** 3, abs=1e-9)
    # shell_average rescales a constant per-mode energy to the continuum shell count
    _, avg = shell_spectrum(g, np.asarray(rfft_mode_weights(g)), binning="shell_average")
    n = np.arange(1, 10)
    expect = 4 * np.pi / 3 * ((n + 0.5) ** 3 - (n - 0.5) ** 3)
    np.testing.assert_allclose(avg[1:10], expect, rtol=1e-14)


@pytest.mark.parametrize("kind,width", [("gaussian", 0.7), ("box", (0.6, 0.9, 0.4)), ("sharp", 0.5),
                                        ("trapezoid", None)])
def test_filtered_spectrum_is_transfer_squared_per_mode(kind, width, rng):
    g = Grid((16, 16, 16), 2 * np.pi)
    u = rng.standard_normal((3,) + g.shape)
    F = make_filter(g, kind, width)
    k, Ef = energy_spectrum(g, F(u))
    _, pred = shell_spectrum(g, np.abs(F.transfer) ** 2 * mode_energy(g, u))
    np.testing.assert_allclose(Ef, pred, rtol=0, atol=1e-14 * Ef.max())


def test_dealias_mask_is_a_cube():
    for n, K in ((64, 21), (12, 3), (16, 5), (9, 2)):
        g = Grid((n, n, n), 1.0)
        mask = dealias_mask(g)
        m = np.rint(np.fft.fftfreq(n, 1 / n)).astype(int)
        mz = np.arange(n // 2 + 1)
        keep = ((np.abs(m)[:, None, None] <= K) & (np.abs(m)[None, :, None] <= K)
                & (mz[None, None, :] <= K))
        np.testing.assert_array_equal(mask, keep)
        assert mask[K, K, K] and not mask[K + 1, 0, 0] and not mask[0, 0, K + 1]
    with pytest.raises(ValueError, match="rule"):
        dealias_mask(g, rule="3/2")


def _exact_product(A, B, grid):
    """Exact (alias-free) product spectrum by numpy zero padding to twice the size, rfft layout
    in fieldsolve.fft normalisation."""
    shape, big = grid.shape, tuple(2 * n for n in grid.shape)
    def up(X):
        full = np.fft.fftn(np.fft.irfftn(X, shape, axes=(0, 1, 2)))  # complex full spectrum
        Y = np.zeros(big, complex)
        idx = np.ix_(*[np.where(np.fft.fftfreq(n, 1 / n) >= 0, np.arange(n), np.arange(n) + n)
                       for n in shape])
        Y[idx] = full * (math.prod(big) / grid.size)
        return np.fft.ifftn(Y).real
    P = np.fft.fftn(up(A) * up(B))
    idx = np.ix_(*[np.where(np.fft.fftfreq(n, 1 / n) >= 0, np.arange(n), np.arange(n) + n)
                   for n in shape[:-1]], np.arange(shape[-1] // 2 + 1))
    return P[idx] * (grid.size / math.prod(big))


def test_two_thirds_rule_products_are_alias_free(rng):
    g = Grid((12, 10, 9), 1.0)
    a, b = rng.standard_normal((2,) + g.shape)
    A, B = dealias(g, fft.rfftn(a)), dealias(g, fft.rfftn(b))
    P = fft.rfftn(fft.irfftn(A, g.shape) * fft.irfftn(B, g.shape))
    exact = _exact_product(A, B, g)
    mask = dealias_mask(g)
    scale = np.abs(exact).max()
    assert np.abs((P - exact)[mask]).max() < 1e-14 * scale * 10
    # without dealiasing the same comparison fails by O(1)
    A0, B0 = fft.rfftn(a), fft.rfftn(b)
    P0 = fft.rfftn(a * b)
    assert np.abs((P0 - _exact_product(A0, B0, g))[mask]).max() > 1e-2 * np.abs(P0).max()


def _zero_nyquist(X, grid):
    X = X.copy()
    for ax, n in enumerate(grid.shape):
        if n % 2 == 0:
            idx = [slice(None)] * grid.ndim
            idx[ax] = n // 2
            X[tuple(idx)] = 0
    return X


def test_three_halves_padding_product_exact(rng):
    g = Grid((12, 10, 8), 1.0)
    a, b = rng.standard_normal((2,) + g.shape)
    A, B = _zero_nyquist(fft.rfftn(a), g), _zero_nyquist(fft.rfftn(b), g)
    P = padded_product(g, A, B)
    exact = _zero_nyquist(_exact_product(A, B, g), g)
    assert np.abs(P - exact).max() < 1e-13 * np.abs(exact).max()
    with pytest.raises(ValueError, match="3/2"):
        padded_product(g, A, B, factor=1.2)


def test_padding_interpolates_including_nyquist(rng):
    # factor-2 padding: every other point of the padded field is an original point, even with
    # Nyquist content (which must be split between +n/2 and -n/2 to stay real and exact).
    g = Grid((8, 6, 10), 1.0)
    u = rng.standard_normal(g.shape)
    X = fft.rfftn(u)
    big = tuple(2 * n for n in g.shape)
    v = fft.irfftn(pad_spectrum(g, X, big), big)
    np.testing.assert_allclose(v[::2, ::2, ::2], u, rtol=0, atol=1e-14 * 10)
    back = truncate_spectrum(g, fft.rfftn(v), big)
    np.testing.assert_allclose(back, _zero_nyquist(X, g), rtol=0, atol=1e-12)
