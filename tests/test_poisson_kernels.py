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
from fieldsolve.kernels import free


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


def test_vgf_dct_equals_classic_oversampled_fft():
    """The pruned DCT-I precomputation equals the classic sigma N-point FFT of the sampled
    symbol (sigma = 3 >= (L + D)/D = 2.56 here)."""
    n, h = 12, 1 / 12
    ker = green.VGFKernel()
    octant = ker.octant((h, h), (n, n))
    L = 1.1 * math.sqrt(2)
    k = 2 * np.pi * np.fft.fftfreq(3 * n, d=h)
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


# -- fast set-up: each shortcut against the plain evaluation it replaces -------------------------
def test_lgf_far_series_terms_gain_two_powers_of_r():
    """The series truncated after t corrections misses O(r^-(2t+3)) in 3D (r^-(2t+2) in 2D):
    slope of the largest error on the shells 16 <= |m| < 17 and 24 <= |m| < 25 (quadrature
    reference, whose own error is below 1e-13 here)."""
    from fieldsolve.kernels import lattice

    for d, series, quad in ((3, lattice.lgf3_series, lattice.lgf3), (2, lattice.lgf2_series, lattice.lgf2)):
        idx = np.stack(np.meshgrid(*[np.arange(26)] * d, indexing="ij"), -1).reshape(-1, d)
        r = np.linalg.norm(idx, axis=1)
        shells = [idx[(r >= R) & (r < R + 1)] for R in (16, 24)]
        exact = [quad(m, series_from=np.inf) for m in shells]
        for t in range(4):
            err = [np.abs(series(m, t) - e).max() for m, e in zip(shells, exact)]
            slope = np.log(err[1] / err[0]) / np.log(24.5 / 16.5)
            assert abs(slope + 2 * t + (3 if d == 3 else 2)) < 0.4, (d, t, slope)


def test_lgf_hybrid_octant_matches_quadrature_and_inverts_the_stencil():
    """From |m| = 32 on the octant uses the series: it equals the quadrature to its error (3D
    3e-16, 2D 1e-12 here) and the 7/5-point Laplacian of the octant is delta to 1e-15 / 2e-13
    across the switch radius (to 1e-17 / 1e-15 beyond it, where only the series is used)."""
    from fieldsolve.kernels import lattice

    counts = (44, 40, 36)
    o = lattice._lgf_octant(counts)
    idx = np.stack(np.meshgrid(*[np.arange(n + 1) for n in counts], indexing="ij"), -1)
    assert np.abs(o - lattice.lgf3(idx, series_from=np.inf)).max() < 1.5e-15
    lap = -6 * o[1:-1, 1:-1, 1:-1]
    for a in range(3):
        hi, lo = [slice(1, -1)] * 3, [slice(1, -1)] * 3
        hi[a], lo[a] = slice(2, None), slice(0, -2)
        lap = lap + o[tuple(hi)] + o[tuple(lo)]
    r = np.sqrt(sum(x * x for x in np.meshgrid(*[np.arange(1, n) for n in counts], indexing="ij")))
    assert np.abs(lap[r > 1]).max() < 1e-15 and np.abs(lap[r > 34]).max() < 1e-17
    o2 = lattice._lgf_octant((80, 70))
    idx2 = np.stack(np.meshgrid(np.arange(81), np.arange(71), indexing="ij"), -1)
    assert np.abs(o2 - lattice.lgf2(idx2, series_from=np.inf)).max() < 3e-12
    lap2 = o2[2:, 1:-1] + o2[:-2, 1:-1] + o2[1:-1, 2:] + o2[1:-1, :-2] - 4 * o2[1:-1, 1:-1]
    r2 = np.hypot(*np.meshgrid(np.arange(1, 80), np.arange(1, 70), indexing="ij"))
    assert np.abs(lap2[r2 > 1]).max() < 2e-13 and np.abs(lap2[r2 > 34]).max() < 2e-15
    # near the origin: the quadrature (evaluated once per sorted lag)
    np.testing.assert_allclose(o[:5, :5, :5], lattice.lgf3(idx[:5, :5, :5]), rtol=1e-15)


@pytest.mark.parametrize("shape", [(6, 9, 5), (7, 4), (12,), (2, 2, 2)])
def test_octant_transfer_equals_padded_fft(shape):
    octant = np.random.default_rng(3).standard_normal(shape)
    padded = green.pad_kernel(octant, tuple(2 * (n - 1) for n in shape))
    ref = green.padded_transfer(padded)
    got = free.octant_transfer(octant)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15 * np.abs(ref).max() * 4)


@pytest.mark.parametrize("kernel, opts", [("zeta", {}), ("chat2", {}), ("hej6", {}),
                                          ("hej0", {}), ("zeta", {"split": 0.7})])
def test_radial_octant_equals_direct_evaluation(kernel, opts):
    """Equal spacing: radial kernels are evaluated once per integer |m|^2 and gathered."""
    h, counts = 0.3, (9, 7, 8)
    ker = fs.get_kernel(kernel, **opts)
    got = ker.octant((h,) * 3, counts)
    r = np.sqrt(sum(x * x for x in np.meshgrid(*[np.arange(n + 1) * h for n in counts],
                                                indexing="ij")))
    with np.errstate(divide="ignore", invalid="ignore"):
        if "split" in opts:
            ref = green.long_range_green_function(r, 3, opts["split"])
        elif kernel == "hej6":
            ref = ker.green(r, 3, eps=ker.alpha * h)
        elif kernel == "hej0":
            ref = ker.green(r, sigma=h / np.pi)
        else:
            ref = green.green_function(r, 3)
    ref = ref * h**3
    if kernel in ("zeta", "chat2") and not opts:
        ref[0, 0, 0] = ker.origin_value((h,) * 3)
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0)


def test_igf_isotropic_corner_grid_matches_quadrature():
    """Equal spacing: F3 on sorted corner triples only (symmetric), then inclusion-exclusion."""
    h = 0.4
    K = green.IGFKernel().octant((h,) * 3, (3, 2, 4))
    for m in ((3, 1, 2), (0, 2, 4), (1, 0, 0)):
        lo = [(c - 0.5) * h for c in m]
        q = integrate.tplquad(lambda z, y, x: -1 / (4 * np.pi * np.sqrt(x * x + y * y + z * z)),
                              lo[0], lo[0] + h, lo[1], lo[1] + h, lo[2], lo[2] + h,
                              epsabs=1e-14, epsrel=1e-13)[0]
        assert abs(K[m] - q) < 1e-12, (m, K[m], q)
    # the symmetric and the general corner evaluation agree to rounding
    from fieldsolve.kernels import _octant

    x = (np.arange(7) - 0.5) * h
    a, b = np.empty((5, 7, 6)), np.empty((5, 7, 6))
    _octant.f3_corners_symmetric(x, a)
    _octant.f3_corners(x[:5], x, x[:6], b)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("box", [1.0, (1.0, 1.3, 0.8)])
def test_vgf_3d_chunked_dct_equals_classic_oversampled_fft(box):
    """3D: the chunked, pruned DCT-I (radial table for a cube) equals the sigma N-point FFT."""
    n = 6
    g = fs.Grid((n,) * 3, box, periodic=False)
    ker = green.VGFKernel()
    octant = ker.octant(g.spacing, g.shape)
    L = 1.1 * math.sqrt(sum(b * b for b in g.box))
    ks = []
    for h, d in zip(g.spacing, g.box):
        sigma = max(3, math.ceil((L + d) / d - 1e-12))
        sigma += (sigma * n) % 2
        ks.append(2 * np.pi * np.fft.fftfreq(sigma * n, d=h))
    kk = np.sqrt(sum(k * k for k in np.meshgrid(*ks, indexing="ij", sparse=True)))
    full = np.fft.ifftn(green.VGFKernel.transfer_truncated(kk, L, 3)).real
    np.testing.assert_allclose(octant, full[: n + 1, : n + 1, : n + 1],
                               atol=1e-14 * np.abs(full).max())


@pytest.mark.parametrize("kernel, ndim, geometry", [
    ("zeta", 3, "volume"), ("igf", 3, "volume"), ("lgf", 3, "volume"), ("hej4", 2, "volume"),
    ("vgf", 1, "volume"), ("igf", 2, "thin_disc"), ("vgf", 2, "thin_disc"), ("chat2", 1, "volume")])
def test_solver_spectrum_equals_fft_of_padded_kernel(kernel, ndim, geometry):
    """The solver's spectrum (DCT-I of the octant) against the FFT of the padded array."""
    shape = (10, 12, 9)[:ndim] if kernel not in ("zeta", "lgf", "hej4") else (10,) * ndim
    g = fs.Grid(shape, tuple(0.1 * n for n in shape), periodic=False)
    s = fs.PoissonSolver(g, kernel, geometry=geometry)
    ref = green.padded_transfer(s.padded_kernel())
    np.testing.assert_allclose(s.transfer(), ref, rtol=0, atol=2e-15 * np.abs(ref).max())
