"""Synthetic turbulence: divergence-free, on the target spectrum, zero mean and Nyquist,
reproducible from the seed; model-spectrum normalisations."""
import math

import numpy as np
import pytest
from scipy import integrate

from fieldsolve import Grid, fft
from fieldsolve.spectra import derivative, energy_spectrum, mode_energy
from fieldsolve.turbulence import model_spectrum, synthetic_turbulence


def _divergence(u, g):
    return sum(derivative(g, u[a], a) for a in range(g.ndim))


@pytest.mark.parametrize("shape,box", [((32, 32, 32), 2 * np.pi), ((24, 16, 20), (2.0, 1.5, 1.0)),
                                       ((15, 16, 17), 2 * np.pi)])
def test_divergence_free_on_spectrum_zero_mean(shape, box):
    g = Grid(shape, box)
    kp = 4 * min(g.kfundamental)
    u = synthetic_turbulence(g, "passot_pouquet", k_peak=kp, u_rms=0.7, seed=7)
    assert u.shape == (3,) + shape and u.dtype == np.float64
    grad = max(np.abs(derivative(g, u[i], j)).max() for i in range(3) for j in range(3))
    assert np.abs(_divergence(u, g)).max() < 1e-12 * grad
    assert np.abs(u.mean(axis=(1, 2, 3))).max() < 1e-15
    # Nyquist planes of even axes are empty
    U = fft.rfftn(u, axes=(1, 2, 3))
    for a, n in enumerate(shape):
        if n % 2 == 0:
            idx = [slice(None)] * 4
            idx[a + 1] = n // 2
            assert np.abs(U[tuple(idx)]).max() < 1e-12 * np.abs(U).max()
    # every shell that has modes carries exactly E(k_n) dk
    k, E = energy_spectrum(g, u)
    Em = model_spectrum("passot_pouquet", kp, 0.7)(k)
    populated = E > 0
    assert populated[1:8].all()
    # relative 1e-12 where the shell holds energy; round-off (~eps^2 of the total) elsewhere
    np.testing.assert_allclose(E[populated], Em[populated], rtol=1e-12, atol=1e-15 * E.max())


def test_seed_reproducible_and_distinct():
    g = Grid((16, 16, 16), 2 * np.pi)
    a = synthetic_turbulence(g, k_peak=3.0, seed=11)
    b = synthetic_turbulence(g, k_peak=3.0, seed=11)
    c = synthetic_turbulence(g, k_peak=3.0, seed=12)
    d = synthetic_turbulence(g, k_peak=3.0, seed=np.random.SeedSequence(11))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d)
    assert np.abs(a - c).max() > 0.1


def test_normalize_field_gives_exact_rms():
    g = Grid((16, 16, 16), 2 * np.pi)
    u = synthetic_turbulence(g, "von_karman", k_peak=3.0, u_rms=1.3, seed=3, normalize="field")
    assert abs(np.mean(u * u) - 1.3 ** 2) < 1e-13
    k, E = energy_spectrum(g, u)
    Em = model_spectrum("von_karman", 3.0, 1.3)(k)
    big = E > 1e-10 * E.max()
    ratio = E[big] / Em[big]
    assert big[1:6].all() and abs(ratio[0] - 1) > 1e-3  # the level did change...
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)  # ...by one overall factor


def test_per_mode_rescaling_matches_continuous_spectrum():
    g = Grid((16, 16, 16), 2 * np.pi)
    u = synthetic_turbulence(g, k_peak=3.0, seed=5, rescale="mode")
    e = mode_energy(g, u)
    k2 = g.k2()
    kmag = np.sqrt(k2)
    from fieldsolve.power import rfft_mode_weights
    target = model_spectrum("passot_pouquet", 3.0, 1.0)(kmag) / (4 * np.pi * np.where(k2 > 0, k2, 1)) \
        * rfft_mode_weights(g)
    nyq = (np.abs(g.kvectors()[0]) == 8) | (np.abs(g.kvectors()[1]) == 8) | (g.kvectors()[2] == 8)
    keep = (k2 > 0) & ~nyq
    np.testing.assert_allclose(e[keep], target[keep], rtol=1e-12, atol=1e-15 * e.max())
    assert np.all(e[~keep] < 1e-28)


def test_two_dimensional_and_float32():
    g = Grid((32, 24), (2 * np.pi, 1.5 * np.pi))
    u = synthetic_turbulence(g, k_peak=4.0, seed=1, dtype=np.float32)
    assert u.shape == (2, 32, 24) and u.dtype == np.float32
    div = _divergence(u.astype(np.float64), g)
    assert np.abs(div).max() < 1e-5 * np.abs(derivative(g, u[0].astype(float), 1)).max()


def test_model_spectra_normalisation():
    u0, kp = 1.1, 3.0
    E = model_spectrum("passot_pouquet", kp, u0)
    k = np.array([0.5, 3.0, 7.0])
    closed = 16 * math.sqrt(2 / math.pi) * u0 ** 2 * k ** 4 / kp ** 5 * np.exp(-2 * k ** 2 / kp ** 2)
    np.testing.assert_allclose(E(k), closed, rtol=1e-14)
    for name, opts in (("passot_pouquet", {}), ("von_karman", {}), ("von_karman", {"k_eta": 40.0}),
                       ("pope", {"eta": 0.01})):
        Ek = model_spectrum(name, kp, u0, **opts)
        tot = integrate.quad(Ek, 0, np.inf, limit=500, points=None)[0] if name != "pope" else \
            integrate.quad(Ek, 0, 6000, limit=800, points=[kp, 100.0])[0]
        assert abs(tot - 1.5 * u0 ** 2) < 1e-6 * tot, name
    # peak position: PP and von Karman (no cutoff) peak at k_peak
    kk = np.linspace(0.5, 10, 19001)
    for name in ("passot_pouquet", "von_karman"):
        assert abs(kk[np.argmax(model_spectrum(name, kp, u0)(kk))] - kp) < 1e-3


@pytest.mark.parametrize("kwargs,match", [
    (dict(spectrum="kolmogorov"), "unknown spectrum"),
    (dict(rescale="octave"), "rescale"),
    (dict(u_rms=-1.0), "> 0"),
])
def test_bad_input(kwargs, match):
    g = Grid((8, 8, 8), 1.0)
    with pytest.raises(ValueError, match=match):
        synthetic_turbulence(g, k_peak=10.0, seed=0, **kwargs)
    with pytest.raises(ValueError, match="periodic"):
        synthetic_turbulence(Grid((8, 8, 8), 1.0, periodic=False), k_peak=10.0, seed=0)
    with pytest.raises(ValueError, match="2 dimensions"):
        synthetic_turbulence(Grid(8, 1.0), k_peak=10.0, seed=0)
