"""Explicit filters: transfer functions vs closed forms, origin at index 0, composition,
idempotence, commutation with derivatives, width conventions and bad input."""
import math

import numpy as np
import pytest

from fieldsolve import Grid, fft
from fieldsolve.filters import (FWHM_PER_DELTA, SIGMA_PER_DELTA, filter_field, filter_kernel,
                                filter_width_ratio, make_filter, stencil_transfer,
                                stencil_weights, transfer_function, width_from_fwhm)
from fieldsolve.spectra import derivative

EPS = np.finfo(float).eps


def _stencil_dft(w, n):
    """DFT of a 1-D stencil placed with its centre at index 0 (offset m at index m mod n)."""
    a = np.zeros(n)
    M = len(w) // 2
    for m in range(-M, M + 1):
        a[m % n] += w[M + m]
    return np.fft.fft(a)


def _trapezoid_closed(x, f):
    # composite trapezoid over f intervals: (1/f) sin(f x/2) cot(x/2)
    return np.sin(f * x / 2) / (f * np.tan(x / 2))


def _simpson_closed(x, f):
    # Richardson: (4 T_h - T_2h)/3 -> (2 sin(f x/2)/(3 f)) (2 cot(x/2) - cot x)
    return 2 * np.sin(f * x / 2) / (3 * f) * (2 / np.tan(x / 2) - 1 / np.tan(x))


@pytest.mark.parametrize("f", [1.0, 2.0, 3.0, 4.0, 2.5])
def test_sagaut_grohens_stencils_match_closed_forms(f):
    n, h = 64, 0.1
    k = 2 * np.pi * np.fft.fftfreq(n, h)
    x = k * h
    w3 = stencil_weights("sg3", f)
    closed3 = 1 - f * f / 6 * np.sin(x / 2) ** 2
    np.testing.assert_allclose(_stencil_dft(w3, n).real, closed3, rtol=0, atol=1e-14)
    np.testing.assert_allclose(transfer_function("sg3", k, f * h, h=h), closed3, rtol=0, atol=1e-14)
    for kind in ("sg5_box", "sg5_gaussian"):
        w = stencil_weights(kind, f)
        dft = _stencil_dft(w, n)
        assert np.abs(dft.imag).max() < 1e-15  # symmetric stencil at the origin: real G^
        closed = w[2] + 2 * w[3] * np.cos(x) + 2 * w[4] * np.cos(2 * x)
        np.testing.assert_allclose(dft.real, closed, rtol=0, atol=1e-14)
        np.testing.assert_allclose(stencil_transfer(w, k, h), closed, rtol=0, atol=1e-15)
        # second moment 12 sum w_m (m h)^2 = (f h)^2 by construction, sum w = 1
        m = np.arange(-2, 3)
        assert abs(12 * np.sum(w * (m * h) ** 2) - (f * h) ** 2) < 1e-14
        assert abs(w.sum() - 1) < 1e-15
    # the filter object uses the same discrete transfer on every axis
    g = Grid((16, 16, 8), (16 * h, 16 * h, 8 * h))
    filt = make_filter(g, "sg3", f * h)
    kx, ky, kz = g.kvectors()
    expect = 1.0
    for kk in (kx, ky, kz):
        expect = expect * (1 - f * f / 6 * np.sin(kk * h / 2) ** 2)
    np.testing.assert_allclose(filt.transfer, np.broadcast_to(expect, g.rfft_shape), rtol=0, atol=1e-14)
    np.testing.assert_allclose(filt.effective_width, (f * h,) * 3, rtol=1e-14)


def test_named_stencils_reference_values():
    # S&G 5-point box at f = 2; sg5_gaussian(2) = Simpson; sg3(2) = Simpson, sg3(sqrt 6) = trapezoid
    np.testing.assert_allclose(stencil_weights("sg5_box", 2.0),
                               [-1 / 180, 17 / 90, 19 / 30, 17 / 90, -1 / 180], rtol=0, atol=1e-16)
    np.testing.assert_allclose(stencil_weights("sg5_gaussian", 2.0), [0, 1 / 6, 2 / 3, 1 / 6, 0], atol=1e-16)
    np.testing.assert_allclose(stencil_weights("sg3", 2.0), [1 / 6, 2 / 3, 1 / 6], atol=1e-16)
    np.testing.assert_allclose(stencil_weights("sg3", math.sqrt(6)), [0.25, 0.5, 0.25], atol=1e-15)
    # G^ < 0 at Nyquist when f > sqrt(6): f = 3 gives -1/2
    assert abs(transfer_function("sg3", np.pi, 3.0, h=1.0) + 0.5) < 1e-15


@pytest.mark.parametrize("f", [2, 4, 6])
def test_quadrature_stencils_match_closed_forms(f):
    n, h = 48, 0.25
    m = np.arange(1, n // 2)  # avoid x = 0 and x = pi, where the closed forms are 0/0
    x = 2 * np.pi * m / n
    for kind, closed in (("trapezoid", _trapezoid_closed), ("simpson", _simpson_closed)):
        w = stencil_weights(kind, f)
        np.testing.assert_allclose(_stencil_dft(w, n)[m].real, closed(x, f), rtol=0, atol=1e-14)
        g = Grid(n, n * h)
        filt = make_filter(g, kind, f * h)
        np.testing.assert_allclose(filt.transfer[m], closed(x, f), rtol=0, atol=1e-14)
        assert filt.transfer[0] == pytest.approx(1.0, abs=1e-15)
    # Nyquist: trapezoid(2h) 0, Simpson(2h) 1/3; widths: trapezoid sqrt(6) h, Simpson 2h
    g = Grid(8, 8 * h)
    t = make_filter(g, "trapezoid")
    s = make_filter(g, "simpson")
    assert abs(t.transfer[-1]) < 1e-16 and abs(s.transfer[-1] - 1 / 3) < 1e-15
    assert t.width == (2 * h,) and abs(t.effective_width[0] - math.sqrt(6) * h) < 1e-15
    assert abs(s.effective_width[0] - 2 * h) < 1e-15


@pytest.mark.parametrize("kind", ["trapezoid", "simpson", "sg3", "sg5_box", "stencil"])
def test_stencil_filter_equals_physical_space_convolution(kind, rng):
    # Applying the discrete transfer function spectrally must equal the direct periodic stencil sum.
    g = Grid((12, 9, 10), (1.2, 0.9, 1.0))
    opts = {"weights": [0.1, 0.2, 0.4, 0.2, 0.1]} if kind == "stencil" else {}
    width = None if kind in ("trapezoid", "simpson", "stencil") else tuple(2.4 * h for h in g.spacing)
    filt = make_filter(g, kind, width, **opts)
    u = rng.standard_normal(g.shape)
    out = u
    for axis, w in enumerate(filt.options["weights"]):
        M = len(w) // 2
        out = sum(wm * np.roll(out, m, axis=axis) for wm, m in zip(w, range(-M, M + 1)))
    np.testing.assert_allclose(filter_field(g, u, filt), out, rtol=0, atol=1e-14 * np.abs(u).max() * 10)


def _circular_centroid(f, axis):
    n = f.shape[axis]
    phase = np.exp(2j * np.pi * np.arange(n) / n)
    view = [1] * f.ndim
    view[axis] = n
    z = np.sum(f * phase.reshape(view))
    return (np.angle(z) * n / (2 * np.pi)) % n, z


@pytest.mark.parametrize("shape", [(16, 15, 10), (9, 12, 7)])
@pytest.mark.parametrize("kind,width", [("gaussian", 3.0), ("box", 2.5), ("sharp", 3.0),
                                        ("trapezoid", None), ("sg3", 3.0), ("sg5_gaussian", 3.0)])
def test_delta_response_is_centred_even_and_odd(shape, kind, width):
    g = Grid(shape, tuple(float(n) for n in shape))  # h = 1
    j0 = (5, 7, 3)
    delta = np.zeros(shape)
    delta[j0] = 1.0
    filt = make_filter(g, kind, width)
    out = filter_field(g, delta, filt)
    # Ghat(0) = 1 (the total weight is conserved), Ghat real for a symmetric kernel
    assert filt.transfer.dtype == np.float64 and filt.transfer.flat[0] == pytest.approx(1, abs=1e-15)
    assert abs(out.sum() - 1) < 1e-13
    for axis in range(3):
        c, z = _circular_centroid(out, axis)
        assert abs(z) > 0.05  # first harmonic present and positive: Ghat(k1) > 0
        d = (c - j0[axis] + shape[axis] / 2) % shape[axis] - shape[axis] / 2
        assert abs(d) < 1e-9, f"response shifted by {d} cells on axis {axis}"
    # symmetric about the delta: out[j0 + m] == out[j0 - m]
    rolled = np.roll(out, tuple(-j for j in j0), axis=(0, 1, 2))
    mirrored = np.roll(rolled[::-1, ::-1, ::-1], 1, axis=(0, 1, 2))
    np.testing.assert_allclose(rolled, mirrored, rtol=0, atol=1e-14)
    # and it is the filter's own kernel moved to the delta
    np.testing.assert_allclose(out, np.roll(filter_kernel(g, kind, width), j0, axis=(0, 1, 2)),
                               rtol=0, atol=1e-14)


@pytest.mark.parametrize("n", [64, 45])
def test_sampled_gaussian_kernel_vs_spectral(n):
    # The sampled kernel (minimum-image distances, origin at index 0) has DFT
    # sum_m Ghat(k + 2 pi m / h): its error at Nyquist is ~exp(-pi^2 f^2 / 24) per axis.
    g = Grid((n, n), (1.0, 1.0))
    h = g.spacing[0]
    for f in (8.0, 4.0):
        K = filter_kernel(g, "gaussian", f * h, sampled=True)
        assert abs(K.sum() - 1) < 1e-14 and K.flat[0] == K.max()
        Ghat = fft.rfftn(K)
        ref = make_filter(g, "gaussian", f * h).transfer
        err = np.abs(Ghat - ref).max()
        alias = math.exp(-math.pi ** 2 * f ** 2 / 24)
        assert np.abs(Ghat.imag).max() < 1e-15
        if f == 8.0:
            assert err < 2 * alias + 1e-14  # 3.8e-12
        else:  # the bound is attained (Nyquist alias), so it is the right error model
            assert 0.3 * alias < err < 2 * alias
    # a kernel given in physical space is applied with its origin at index 0
    K = filter_kernel(g, "gaussian", 8 * h, sampled=True)
    delta = np.zeros(g.shape)
    delta[3, 40 % n] = 1
    out = filter_field(g, delta, "kernel", kernel=K)
    np.testing.assert_allclose(out, np.roll(K, (3, 40 % n), axis=(0, 1)), rtol=0, atol=1e-15)


def test_width_conventions_sigma_fwhm_and_scipy(rng):
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    assert abs(SIGMA_PER_DELTA - 0.28868) < 1e-5 and abs(FWHM_PER_DELTA - 0.67978) < 1e-5
    assert abs(width_from_fwhm(FWHM_PER_DELTA) - 1) < 1e-15
    g = Grid((64, 48), (6.4, 4.8))  # h = 0.1
    u = rng.standard_normal(g.shape)
    sigma = 0.3  # 3 cells: Delta = 1.039 = 10.4 h, aliasing exp(-44)
    a = filter_field(g, u, "gaussian", sigma=sigma)
    b = filter_field(g, u, "gaussian", width=math.sqrt(12) * sigma)
    c = filter_field(g, u, "gaussian", fwhm=2 * math.sqrt(2 * math.log(2)) * sigma)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    np.testing.assert_allclose(a, c, rtol=0, atol=1e-14)
    # scipy's sigma (in cells) with periodic wrap; truncate = 8 sigma leaves exp(-32) ~ 1e-14
    ref = scipy_ndimage.gaussian_filter(u, sigma=3.0, mode="wrap", truncate=8.0)
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-12)


def test_gaussian_composition_sharp_idempotent_gaussian_not(rng):
    g = Grid((16, 16, 16), 2 * np.pi)
    u = rng.standard_normal((3,) + g.shape)
    d1, d2 = 0.5, 0.8
    twice = filter_field(g, filter_field(g, u, "gaussian", d1), "gaussian", d2)
    once = filter_field(g, u, "gaussian", math.hypot(d1, d2))
    np.testing.assert_allclose(twice, once, rtol=0, atol=1e-13)
    G1, G2 = make_filter(g, "gaussian", d1), make_filter(g, "gaussian", d2)
    np.testing.assert_allclose(G1.compose(G2).effective_width, (math.hypot(d1, d2),) * 3, rtol=1e-15)
    # Gaussian is not a projection
    gg = filter_field(g, filter_field(g, u, "gaussian", d2), "gaussian", d2)
    assert np.abs(gg - filter_field(g, u, "gaussian", d2)).max() > 0.05
    for shape in ("sphere", "cube"):
        s = make_filter(g, "sharp", 0.6, shape=shape)
        su = s.apply(u)
        np.testing.assert_allclose(s.apply(su), su, rtol=0, atol=1e-13)
        assert np.abs(su - u).max() > 0.1
        # sharp(k1) o sharp(k2) = sharp(min k): the larger width wins
        s2 = make_filter(g, "sharp", 0.9, shape=shape)
        np.testing.assert_allclose(s2.apply(su), s2.apply(u), rtol=0, atol=1e-13)


def test_sharp_cutoff_modes_and_shapes():
    g = Grid((16, 16, 16), 2 * np.pi)  # integer wavenumbers
    s = make_filter(g, "sharp", np.pi / 5)  # k_c = 5
    kx, ky, kz = g.kvectors()
    kmag = np.sqrt(kx ** 2 + ky ** 2 + kz ** 2)
    np.testing.assert_array_equal(s.transfer, (kmag < 5 - 1e-9).astype(float))
    c = make_filter(g, "sharp", np.pi / 5, shape="cube")
    cube = (np.abs(kx) < 5 - 1e-9) & (np.abs(ky) < 5 - 1e-9) & (np.abs(kz) < 5 - 1e-9)
    np.testing.assert_array_equal(c.transfer, np.broadcast_to(cube, g.rfft_shape).astype(float))
    # Delta = h puts the cutoff at Nyquist: only Nyquist and corner modes are removed
    full = make_filter(g, "sharp", g.spacing[0], shape="cube")
    assert full.transfer[:8, :8, :8].min() == 1 and full.transfer[8, 0, 0] == 0


def test_filters_commute_with_spectral_derivatives(rng):
    g = Grid((16, 12, 10), (2 * np.pi, 3.0, 2.5))
    u = rng.standard_normal(g.shape)
    for kind, w in (("gaussian", 0.6), ("box", 0.7), ("sharp", 0.8), ("simpson", None)):
        for axis in range(3):
            a = derivative(g, filter_field(g, u, kind, w), axis)
            b = filter_field(g, derivative(g, u, axis), kind, w)
            assert np.abs(a - b).max() < 1e-12 * np.abs(derivative(g, u, axis)).max()
    # and the spectral derivative itself is exact for a resolved mode
    x = g.mesh()[0]
    assert np.abs(derivative(g, np.sin(3 * x), 0) - 3 * np.cos(3 * x)).max() < 1e-13
    assert np.abs(derivative(g, np.sin(3 * x), 0, order=2) + 9 * np.sin(3 * x)).max() < 1e-12


def test_linearity_constants_mean_and_precision(rng):
    g = Grid((16, 16, 16), 1.0)
    u, v = rng.standard_normal((2, 3) + g.shape)
    F = make_filter(g, "box", (0.2, 0.15, 0.1))
    np.testing.assert_allclose(F(2 * u - 3 * v), 2 * F(u) - 3 * F(v), rtol=0, atol=1e-13)
    np.testing.assert_allclose(F(np.full(g.shape, 2.5)), 2.5, rtol=0, atol=1e-14)
    np.testing.assert_allclose(F(u).mean(axis=(1, 2, 3)), u.mean(axis=(1, 2, 3)), rtol=0, atol=1e-15)
    out32 = F(u.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, F(u), rtol=0, atol=2e-6 * np.abs(u).max())


def test_transfer_function_public_forms():
    k = np.linspace(0, 20, 201)
    D = 0.5
    np.testing.assert_allclose(transfer_function("gaussian", k, D), np.exp(-k ** 2 * D ** 2 / 24), rtol=1e-15)
    box = transfer_function("box", k, D)
    np.testing.assert_allclose(box[1:], np.sin(k[1:] * D / 2) / (k[1:] * D / 2), rtol=1e-13, atol=1e-15)
    assert box[0] == 1 and box.min() < -0.2  # negative lobe beyond k D = 2 pi
    np.testing.assert_array_equal(transfer_function("sharp", k, D), (k < np.pi / D - 1e-9).astype(float))
    # separable anisotropic Gaussian and box agree to O(k^2) (same second moment)
    kv = (np.array([0.1, 0.2]), np.array([0.05, 0.3]))
    gauss = transfer_function("gaussian", kv, (0.4, 0.2))
    boxv = transfer_function("box", kv, (0.4, 0.2))
    np.testing.assert_allclose(gauss, boxv, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="gaussian", width=0.0), "> 0"),
    (dict(kind="gaussian", width=-1.0), "> 0"),
    (dict(kind="box", width=(0.1, 0.1)), "entries"),
    (dict(kind="sharp", width=0.05), "below the grid spacing"),
    (dict(kind="gaussian"), "needs a width"),
    (dict(kind="gaussian", width=0.2, sigma=0.1), "only one"),
    (dict(kind="sharp", sigma=0.3), "sigma"),
    (dict(kind="box", fwhm=0.3), "fwhm"),
    (dict(kind="trapezoid", width=0.3), "even integer"),
    (dict(kind="stencil", weights=[0.5, 0.6, 0.5]), "sum to"),
    (dict(kind="stencil", weights=[0.5, 0.5]), "odd length"),
    (dict(kind="lanczos", width=0.3), "unknown filter kind"),
    (dict(kind="gaussian", width=0.3, shape="cube"), "sharp filter only"),
])
def test_bad_filter_arguments(kwargs, match):
    g = Grid((8, 8, 8), 0.8)  # h = 0.1
    with pytest.raises(ValueError, match=match):
        make_filter(g, **kwargs)


def test_bad_grid_and_field_shape():
    g = Grid((8, 8, 8), 1.0, periodic=(True, False, True))
    with pytest.raises(ValueError, match="periodic"):
        filter_field(g, np.zeros(g.shape), "gaussian", 0.3)
    g = Grid((8, 8, 8), 1.0)
    with pytest.raises(ValueError, match="shape"):
        filter_field(g, np.zeros((8, 8)), "gaussian", 0.3)
    with pytest.raises(ValueError, match="complex"):
        filter_field(g, np.zeros(g.shape, complex), "gaussian", 0.3)


def test_filter_width_ratio_conventions():
    g = Grid((16, 16, 16), 1.6)
    G, T = make_filter(g, "gaussian", 0.2), make_filter(g, "gaussian", 0.4)
    assert abs(filter_width_ratio(G, T) - math.sqrt(5)) < 1e-15
    S, St = make_filter(g, "sharp", 0.2), make_filter(g, "sharp", 0.4)
    assert abs(filter_width_ratio(S, St) - 2) < 1e-15
    with pytest.raises(ValueError, match="alpha"):
        filter_width_ratio(S, T)
