import numpy as np
import pytest
from scipy.integrate import trapezoid

import fieldsolve as fs
from fieldsolve import Grid, deposit
from fieldsolve.kernels.windows import WINDOWS, get_window

SCHEMES = ["ngp", "cic", "tsc", "pcs"]


@pytest.mark.parametrize("name", SCHEMES)
def test_shape_is_partition_of_unity_with_unit_integral(name):
    w = WINDOWS[name]
    for d in np.linspace(0.013, 0.987, 11):
        x = np.arange(-5, 6) + d
        assert abs(w.shape(x).sum() - 1.0) < 1e-14
    # the shape is a polynomial between half-integer breakpoints: Gauss-Legendre is exact there
    t, wq = np.polynomial.legendre.leggauss(4)
    total = sum(np.sum(wq * w.shape(a + (t + 1) / 4)) / 4 for a in np.arange(-3, 3, 0.5))
    assert abs(total - 1.0) < 1e-14


@pytest.mark.parametrize("name", ["cic", "tsc", "pcs"])
def test_shape_is_repeated_convolution_of_ngp(name):
    # W_p = W_{p-1} * NGP: check on a fine grid by numerical convolution.
    dx = 1e-3
    x = np.arange(-3, 3 + dx / 2, dx)
    lower = WINDOWS[SCHEMES[get_window(name).order - 2]].shape(x)
    conv = np.convolve(lower, WINDOWS["ngp"].shape(x), mode="same") * dx
    np.testing.assert_allclose(conv, get_window(name).shape(x), atol=3e-3)


@pytest.mark.parametrize("name", SCHEMES)
def test_transfer_is_fourier_transform_of_shape(name):
    w = get_window(name)
    x = np.linspace(-2.5, 2.5, 200001)
    for k in [0.3, 1.7, 3.1]:
        ft = trapezoid(w.shape(x) * np.cos(k * x), x)
        assert abs(ft - w.transfer_1d(k, 1.0)) < 1e-6


@pytest.mark.parametrize("name", SCHEMES)
def test_alias_sum_closed_form_against_brute_force(name):
    w = get_window(name)
    n = np.arange(-20000, 20001)
    for k in [0.05, 0.9, 2.0, 3.1]:
        brute = np.sum(w.transfer_1d(k + 2 * np.pi * n, 1.0) ** 2)
        # NGP's images decay only as n^-2: the truncated tail is ~ 2/(pi^2 * 20000)
        tol = 2e-5 if name == "ngp" else 1e-13
        assert abs(brute - w.alias_sum(k, 1.0)) < tol


@pytest.mark.parametrize("name", SCHEMES)
def test_alternating_alias_sum_against_brute_force(name):
    """sum_n (-1)^n W^2(k + 2 pi n) = cos(k/2) a_p(sin^2(k/2)) (what interlacing leaves)."""
    w = get_window(name)
    n = np.arange(-20000, 20001)
    for k in [0.05, 0.9, 2.0, 3.1]:
        brute = np.sum((-1.0) ** np.abs(n) * w.transfer_1d(k + 2 * np.pi * n, 1.0) ** 2)
        assert abs(brute - w.alias_sum_alternating(k, 1.0)) < 1e-9


def test_interlaced_alias_sum_keeps_even_images():
    g = fs.Grid((8, 6), (1.0, 0.75))
    full = fs.window_alias_sum(g, "tsc")
    inter = fs.window_alias_sum(g, "tsc", interlaced=True)
    nyq = g.nyquist_mask()
    np.testing.assert_array_equal(inter[nyq], full[nyq])
    # brute force over the even images (|n_a| <= 40), off the Nyquist modes
    kx, ky = g.kvectors()
    h = g.spacing
    brute = 0.0
    for i in range(-40, 41):
        for j in range(-40, 41):
            if (i + j) % 2 == 0:
                brute = brute + (np.sinc((kx + 2 * np.pi * i / h[0]) * h[0] / (2 * np.pi))
                                 * np.sinc((ky + 2 * np.pi * j / h[1]) * h[1] / (2 * np.pi))) ** 6
    np.testing.assert_allclose(inter[~nyq], np.broadcast_to(brute, g.rfft_shape)[~nyq], rtol=1e-9)


@pytest.mark.parametrize("name", SCHEMES)
def test_mean_power_of_one_particle_equals_alias_sum(name):
    """<|DFT(deposit of one particle)|^2> over sub-cell positions = sum_n W^2(k + 2 pi n/h).

    Within each half cell the weights are polynomials of degree p-1 in the position, so the
    average is computed exactly (to rounding) by Gauss-Legendre quadrature on the two halves."""
    n, L = 16, 1.0
    g = Grid(n, L)
    h = L / n
    t, wq = np.polynomial.legendre.leggauss(6)
    offsets = np.concatenate([(t + 1) * h / 4, (t + 3) * h / 4])
    wts = np.concatenate([wq, wq]) / 4
    pw = np.zeros(n // 2 + 1)
    for x0, wt in zip(offsets, wts):
        d = deposit(g, np.array([[x0]]), window=name, density=False)
        pw += wt * np.abs(np.fft.rfft(d)) ** 2
    np.testing.assert_allclose(pw, fs.window_alias_sum(g, name), rtol=1e-13, atol=1e-13)
    # and in 2-D on an anisotropic grid the alias sum is the product over axes
    g2 = Grid((8, 6), box=(1.0, 2.0))
    pw2 = np.zeros(g2.rfft_shape)
    hx, hy = g2.spacing
    for x0, w0 in zip(np.concatenate([(t + 1) * hx / 4, (t + 3) * hx / 4]), wts):
        for y0, w1 in zip(np.concatenate([(t + 1) * hy / 4, (t + 3) * hy / 4]), wts):
            d = deposit(g2, np.array([[x0, y0]]), window=name, density=False)
            pw2 += w0 * w1 * np.abs(np.fft.rfftn(d)) ** 2
    np.testing.assert_allclose(pw2, fs.window_alias_sum(g2, name), rtol=1e-12, atol=1e-13)


def test_window_transfer_on_anisotropic_grid():
    g = Grid((8, 6), box=(1.0, 3.0))
    kx, ky = g.kvectors()
    expect = (np.sinc(kx * g.spacing[0] / (2 * np.pi)) * np.sinc(ky * g.spacing[1] / (2 * np.pi))) ** 3
    np.testing.assert_allclose(fs.window_transfer(g, "tsc"), expect)


def test_compensate_inverts_window(rng):
    g = Grid((8, 10, 6), box=(1.0, 2.0, 3.0))
    xk = rng.standard_normal(g.rfft_shape) + 1j * rng.standard_normal(g.rfft_shape)
    w = fs.window_transfer(g, "pcs")
    np.testing.assert_allclose(fs.compensate(g, xk * w**2, "pcs", power=2), xk, rtol=1e-13)
    c = fs.window_alias_sum(g, "cic")
    np.testing.assert_allclose(fs.compensate(g, xk * np.sqrt(c), "cic", aliased=True), xk, rtol=1e-13)
    vec = np.stack([xk * w, 2 * xk * w])
    np.testing.assert_allclose(fs.compensate(g, vec, 4), np.stack([xk, 2 * xk]), rtol=1e-13)
    with pytest.raises(ValueError, match="rfft layout"):
        fs.compensate(g, np.ones((8, 10, 6)), "cic")


def test_get_window_errors_list_choices():
    assert get_window(3) is WINDOWS["tsc"] and get_window("CIC") is WINDOWS["cic"]
    with pytest.raises(ValueError, match="cic"):
        get_window("lanczos")
    with pytest.raises(ValueError):
        get_window(5)
