"""Every kernel formula checked numerically against its defining property: the stencil it
inverts, its spectral symbol, its far field, or a quadrature of the Green's function.
(Published kernel formulas contain typos; these checks are the guard.)"""
import math

import numpy as np
import pytest
import scipy.fft
import scipy.special as sp
from scipy import integrate

import fieldsolve as fs
from fieldsolve import kernels as green


# -- lattice Green's functions ----------------------------------------------------------------
def test_lgf3_known_values():
    v = green.lgf3(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]]))
    assert abs(v[0] - green.LGF3_ORIGIN) < 1e-13
    assert abs(v[1] - v[0] - 1 / 6) < 1e-13 and abs(v[2] - v[1]) < 1e-15


def test_lgf3_inverts_seven_point_laplacian():
    n = 6
    idx = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij"), -1)
    G = green.lgf3(idx)
    lap = -6 * G[1:-1, 1:-1, 1:-1]
    for a in range(3):
        sl_p = [slice(1, -1)] * 3
        sl_m = [slice(1, -1)] * 3
        sl_p[a], sl_m[a] = slice(2, None), slice(0, -2)
        lap = lap + G[tuple(sl_p)] + G[tuple(sl_m)]
    delta = np.zeros_like(lap)
    delta[n - 1, n - 1, n - 1] = 1.0
    np.testing.assert_allclose(lap, delta, atol=1e-12)


def test_lgf3_far_field():
    m = np.array([[24, 0, 0], [14, 14, 14], [30, 5, 1], [20, 17, 3]])
    r = np.linalg.norm(m, axis=1)
    asym = -1 / (4 * np.pi * r) - (5 * (m**4).sum(1) / r**4 - 3) / (32 * np.pi * r**3)
    # next term is O(|m|^-5)
    assert np.all(np.abs(green.lgf3(m) - asym) < 2 * r**-5)
    assert np.all(np.abs(green.lgf3(m) + 1 / (4 * np.pi * r)) > 10 * np.abs(green.lgf3(m) - asym))


def test_lgf2_inverts_five_point_laplacian_and_far_field():
    n = 6
    idx = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 2, indexing="ij"), -1)
    G = green.lgf2(idx, h=0.37)
    lap = -4 * G[1:-1, 1:-1] + G[2:, 1:-1] + G[:-2, 1:-1] + G[1:-1, 2:] + G[1:-1, :-2]
    delta = np.zeros_like(lap)
    delta[n - 1, n - 1] = 1.0
    np.testing.assert_allclose(lap, delta, atol=1e-12)
    m = np.array([[40, 0], [30, 30], [50, 7]])
    r = np.linalg.norm(m, axis=1)
    theta = np.arctan2(m[:, 1], m[:, 0])
    h = 0.37
    asym = np.log(r * h) / (2 * np.pi) - np.cos(4 * theta) / (24 * np.pi * r**2)
    assert np.all(np.abs(green.lgf2(m, h) - asym) < 1e-6)


# -- Hejlesen kernels: spectral symbol -(1/k^2) Q(m/2, k^2 eps^2 / 2) ---------------------------
@pytest.mark.parametrize("m", [2, 4, 6, 8, 10])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_hejlesen_symbol(m, ndim):
    """Fourier transform of (G_eps - G) equals -(Q(m/2, k^2/2) - 1)/k^2 (eps = 1)."""
    ker = green.HejlesenKernel(m)
    G = lambda r: green.green_function(r, ndim)  # noqa: E731
    diff = lambda r: ker.green(r, ndim, eps=1.0) - G(r)  # noqa: E731
    for k in (0.5, 1.3, 2.7):
        if ndim == 3:
            val = 4 * np.pi / k * integrate.quad(lambda r: r * diff(r) * np.sin(k * r), 0, 40,
                                                 limit=400)[0]
        elif ndim == 2:
            val = 2 * np.pi * integrate.quad(lambda r: r * diff(r) * sp.j0(k * r), 0, 40,
                                             limit=400, points=[1e-3])[0]
        else:
            val = 2 * integrate.quad(lambda r: diff(r) * np.cos(k * r), 0, 40, limit=400)[0]
        expect = -(sp.gammaincc(m / 2, k * k / 2) - 1) / k**2
        assert abs(val - expect) < 1e-7, (m, ndim, k, val, expect)


@pytest.mark.parametrize("m", [2, 4, 6, 8, 10])
def test_hejlesen_origin_and_far_field(m):
    ker = green.HejlesenKernel(m)
    for ndim in (1, 2, 3):
        tiny = ker.green(np.array([1e-6]), ndim, eps=0.5)[0]
        assert abs(tiny - ker.green(np.array([0.0]), ndim, eps=0.5)[0]) < 1e-6
        far = np.array([12.0])
        np.testing.assert_allclose(ker.green(far, ndim, eps=0.5), green.green_function(far, ndim),
                                   rtol=1e-12, atol=1e-14)


def test_hej0_origin_and_far_field():
    ker = green.Hej0Kernel()
    sigma = 0.1
    assert abs(ker.green(np.array([0.0]), sigma=sigma)[0] + 1 / (2 * np.pi**2 * sigma)) < 1e-12
    r = np.array([300.0, 301.3])
    rel = ker.green(r, sigma=sigma) / green.green_function(r, 3) - 1
    assert np.all(np.abs(rel) < 2 * sigma / r * 1.0)  # Si(x) = pi/2 - cos(x)/x + ...


# -- point kernels: singular values and Green's-function flux ---------------------------------
def test_singular_values():
    h = 0.3
    z = green.PointKernel("zeta")
    c = green.PointKernel("chat2")
    assert abs(z.origin_value((h,) * 3) / h**2 + 0.225785) < 1e-6
    assert abs(z.origin_value((h,) * 2) - h * h / (2 * np.pi) * (np.log(h) - 1.3105329259)) < 1e-12
    assert abs(z.origin_value((h,)) - h * h / 12) < 1e-15
    assert abs(z.origin_value((h, h), "thin_disc") * 4 * np.pi / h + 3.900265) < 1e-6
    assert abs(c.origin_value((h,) * 3) / h**2 + 0.192417) < 1e-6
    cell2 = (np.pi - 6 - 2 * np.log(2)) / 4  # = -1.0611754 (exact cell average of ln r)
    assert abs(c.origin_value((h,) * 2) / (h * h / (2 * np.pi)) - np.log(h) - cell2) < 1e-12
    assert abs(c.origin_value((h,)) - h * h / 8) < 1e-15
    assert abs(c.origin_value((h, h), "thin_disc") * 4 * np.pi / h + 4 * np.log(1 + np.sqrt(2))) < 1e-12
    igf = green.IGFKernel().octant((h,) * 3, (0, 0, 0))[0, 0, 0]
    assert abs(igf / h**2 + (3 * np.log(2 + np.sqrt(3)) - np.pi / 2) / (4 * np.pi)) < 1e-12


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_green_function_unit_flux(ndim):
    """lap G = delta: the flux of grad G through any sphere is 1, and G is harmonic off 0."""
    r = np.array([0.3, 1.7])
    d = 1e-5
    dG = (green.green_function(r + d, ndim) - green.green_function(r - d, ndim)) / (2 * d)
    area = {1: 2.0, 2: 2 * np.pi * r, 3: 4 * np.pi * r**2}[ndim]
    np.testing.assert_allclose(dG * area, 1.0, rtol=1e-8)


def test_igf_matches_quadrature_on_anisotropic_cells():
    hs = (0.5, 1.0, 0.7)
    K = green.IGFKernel().octant(hs, (3, 1, 2))
    q = integrate.tplquad(lambda z, y, x: -1 / (4 * np.pi * np.sqrt(x * x + y * y + z * z)),
                          2.5 * hs[0], 3.5 * hs[0], 0.5 * hs[1], 1.5 * hs[1], 1.5 * hs[2], 2.5 * hs[2])[0]
    assert abs(K[3, 1, 2] - q) < 1e-12
    K2 = green.IGFKernel().octant(hs[:2], (3, 1))
    q2 = integrate.dblquad(lambda y, x: np.log(np.hypot(x, y)) / (2 * np.pi),
                           2.5 * hs[0], 3.5 * hs[0], 0.5 * hs[1], 1.5 * hs[1])[0]
    assert abs(K2[3, 1] - q2) < 1e-12
    Kt = green.IGFKernel().octant(hs[:2], (3, 1), "thin_disc")
    qt = integrate.dblquad(lambda y, x: -1 / (4 * np.pi * np.hypot(x, y)),
                           2.5 * hs[0], 3.5 * hs[0], 0.5 * hs[1], 1.5 * hs[1])[0]
    assert abs(Kt[3, 1] - qt) < 1e-12


def test_mixed_mode_kernels_solve_their_ode():
    """Per-mode kernels: g'' - k^2 g = 0 off the origin, jump of g' = 1 (1 free axis);
    the k -> 0 limit is the 1D kernel |z|/2 up to a constant."""
    ker = green.PointKernel("chat2")
    h, n, k = 0.01, 200, 3.0
    K = ker.mode_octant((h,), (n,), np.array([k]))[:, 0] / h
    z = np.arange(n + 1) * h
    np.testing.assert_allclose(K[1:], -np.exp(-k * z[1:]) / (2 * k), rtol=1e-14)
    K2 = ker.mode_octant((h, h), (3, 3), np.array([k]))[..., 0] / h**2
    r = np.hypot(*np.meshgrid(np.arange(4) * h, np.arange(4) * h, indexing="ij"))
    np.testing.assert_allclose(K2.ravel()[1:], -sp.k0(k * r.ravel()[1:]) / (2 * np.pi), rtol=1e-14)


# -- VGF ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("ndim, geometry", [(1, "volume"), (2, "volume"), (3, "volume"), (2, "thin_disc")])
def test_vgf_truncated_symbol(ndim, geometry):
    """G_hat_L is the Fourier transform of G 1{r < L} (radial quadrature)."""
    L = 1.7
    G = lambda r: green.green_function(r, ndim, geometry)  # noqa: E731
    for k in (0.0, 0.8, 3.1, 11.0):
        if geometry == "thin_disc" or ndim == 2:
            val = 2 * np.pi * integrate.quad(lambda r: r * G(r) * sp.j0(k * r), 0, L, limit=200)[0]
        elif ndim == 3:
            val = 4 * np.pi * integrate.quad(lambda r: r * r * G(r) * np.sinc(k * r / np.pi), 0, L,
                                             limit=200)[0]
        else:
            val = 2 * integrate.quad(lambda r: G(r) * np.cos(k * r), 0, L, limit=200)[0]
        got = green.VGFKernel.transfer_truncated(np.array([k]), L, ndim, geometry)[0]
        assert abs(got - val) < 1e-9 * max(1, abs(val)), (k, got, val)


def test_vgf_dct_equals_classic_4n_fft():
    """The (2N+1)^d DCT-I precomputation equals the classic 4N-point FFT of the sampled symbol."""
    n, h = 12, 1 / 12
    ker = green.VGFKernel()
    octant = ker.octant((h, h), (n, n))
    L = 1.1 * math.sqrt(2)
    k = 2 * np.pi * np.fft.fftfreq(4 * n, d=h)
    kk = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    full = np.fft.ifftn(green.VGFKernel.transfer_truncated(kk, L, 2)).real
    np.testing.assert_allclose(octant, full[: n + 1, : n + 1], atol=1e-15 * np.abs(full).max() * 100)


def test_kernel_spectrum_equals_dct_of_octant():
    """FFT of the 2N-padded even kernel == DCT-I of its (N+1)^d octant (stored once, real)."""
    n = 10
    octant = green.PointKernel("zeta").octant((0.1,) * 3, (n,) * 3)
    padded = green.pad_kernel(octant, (2 * n,) * 3)
    spec = green.padded_transfer(padded)
    dct = scipy.fft.dctn(octant, type=1)
    np.testing.assert_allclose(spec[: n + 1, : n + 1, :], dct, atol=1e-13 * np.abs(dct).max())


# -- periodic symbols: the stencil each one inverts ------------------------------------------------
def _roll_sum(K, offsets, weights):
    out = np.zeros_like(K)
    for off, w in zip(offsets, weights):
        out += w * np.roll(K, off, axis=(0, 1, 2))
    return out


def _stencils():
    faces = [tuple(s * (a == b) for b in range(3)) for a in range(3) for s in (1, -1)]
    edges = []
    for a in range(3):
        for b in range(a + 1, 3):
            for sa in (1, -1):
                for sb in (1, -1):
                    o = [0, 0, 0]
                    o[a], o[b] = sa, sb
                    edges.append(tuple(o))
    return faces, edges


@pytest.mark.parametrize("kernel", ["fd2", "fd4", "mehrstellen4"])
def test_periodic_symbol_inverts_its_stencil(kernel):
    n, h = 12, 0.25
    g = fs.Grid((n,) * 3, n * h)
    K = fs.get_kernel(kernel).array(g)
    faces, edges = _stencils()
    delta = np.zeros(g.shape)
    delta[0, 0, 0] = 1.0
    if kernel == "fd2":
        lhs = _roll_sum(K, faces + [(0, 0, 0)], [1] * 6 + [-6]) / h**2
        rhs = delta
    elif kernel == "fd4":
        offs, ws = [(0, 0, 0)], [-30 * 3]
        for a in range(3):
            for s, w in ((1, 16), (-1, 16), (2, -1), (-2, -1)):
                o = [0, 0, 0]
                o[a] = s
                offs.append(tuple(o))
                ws.append(w)
        lhs = _roll_sum(K, offs, ws) / (12 * h**2)
        rhs = delta
    else:
        lhs = _roll_sum(K, faces + edges + [(0, 0, 0)], [2] * 6 + [1] * 12 + [-24]) / (6 * h**2)
        rhs = _roll_sum(delta, faces + [(0, 0, 0)], [1] * 6 + [6]) / 12
    # the k = 0 mode is dropped: the stencil returns rhs minus its mean
    np.testing.assert_allclose(lhs, rhs - rhs.mean(), atol=1e-12)


@pytest.mark.parametrize("kernel, order", [("fd2", 2), ("fd4", 4), ("mehrstellen4", 4)])
def test_periodic_symbol_consistency_order(kernel, order):
    g = fs.Grid((64,) * 3, 64.0)  # h = 1
    sym = fs.get_kernel(kernel).transfer(g, rfft=False)
    k2 = g.k2(rfft=False)
    err = np.abs(k2 * sym + 1)
    # along the diagonal (i, i, i) at k h = 2 pi i / 64 for i = 2, 4
    e1, e2 = err[2, 2, 2], err[4, 4, 4]
    assert abs(math.log2(e2 / e1) - order) < 0.1
    spec = fs.get_kernel("spectral").transfer(g, rfft=False)
    assert np.abs(k2 * spec + 1).ravel()[1:].max() < 1e-15


def test_optimal_alias_sum_matches_closed_form():
    # with no split and D = i k the optimal function's denominator uses sum_n U^2(k_n); the
    # truncated sum must converge to the closed-form alias sum of the window (windows.py)
    g = fs.Grid((16,) * 3, 1.0)
    ker = fs.get_kernel("optimal", window="tsc", alias=3)
    sym = ker.transfer(g)
    # the spectral gradient is zeroed on the Nyquist planes: where |D| = 0, G_opt is 0 by construction
    dd = np.broadcast_to(sum(d * d for d in fs.kernels.differencing_symbols(g, "spectral")), g.rfft_shape)
    assert sym.shape == g.rfft_shape and np.all(sym[dd == 0] == 0) and np.all(sym[dd > 0] < 0)
    # at low k the optimal influence function approaches -1/(k^2 W^2) (deconvolution built in)
    k2 = g.k2()
    w = fs.window_transfer(g, "tsc")
    low = (k2 > 0) & (k2 < (2 * np.pi * 2) ** 2)
    ratio = sym[low] * (-k2[low] * w[low] ** 2)
    assert np.all(np.abs(ratio - 1) < 2e-2)
