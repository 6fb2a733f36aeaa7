"""fieldsolve.analytic: every model obeys lap(phi) = 4 pi G rho with the documented sign."""
import numpy as np
import pytest
import scipy.special as sp
from scipy import integrate

import fieldsolve as fs
from fieldsolve import analytic as an


def radial_laplacian(phi, r, ndim, d=1e-4):
    """(1/r^{d-1}) d/dr (r^{d-1} dphi/dr) by central differences."""
    f = lambda q: phi(q)  # noqa: E731
    d1 = (f(r + d) - f(r - d)) / (2 * d)
    d2 = (f(r + d) - 2 * f(r) + f(r - d)) / d**2
    return d2 + (ndim - 1) / r * d1


def along_x(model, ndim, r):
    pts = np.zeros(r.shape + (ndim,))
    pts[..., 0] = r
    return pts + np.asarray(model.center)


@pytest.mark.parametrize("model, ndim", [
    (an.Gaussian(2.0, 0.3, 0.0, 3, G=1.5), 3), (an.Gaussian(2.0, 0.3, 0.0, 2, G=1.5), 2),
    (an.Gaussian(2.0, 0.3, 0.0, 1, G=1.5), 1), (an.Plummer(2.0, 0.4, G=0.7), 3),
    (an.Hernquist(2.0, 0.4), 3), (an.UniformSphere(3.0, 0.5), 3)])
def test_spherical_models_satisfy_poisson(model, ndim):
    r = np.array([0.13, 0.37, 0.81, 1.9])
    phi = lambda q: model.potential(along_x(model, ndim, q))  # noqa: E731
    lap = radial_laplacian(phi, r, ndim)
    rho = model.density(along_x(model, ndim, r))
    G = model.G
    np.testing.assert_allclose(lap, 4 * np.pi * G * rho, rtol=2e-5, atol=1e-6)
    # acceleration = -dphi/dr r_hat
    acc = model.acceleration(along_x(model, ndim, r))[..., 0]
    dphi = (phi(r + 1e-6) - phi(r - 1e-6)) / 2e-6
    np.testing.assert_allclose(acc, -dphi, rtol=1e-6)


@pytest.mark.parametrize("model", [an.Gaussian(2.0, 0.3), an.Plummer(2.0, 0.4),
                                   an.Hernquist(2.0, 0.4), an.UniformSphere(2.0, 0.5)])
def test_far_field_is_point_mass(model):
    r = np.array([400.0])
    np.testing.assert_allclose(model.potential(along_x(model, 3, r)), -2.0 / r, rtol=2e-3)


def test_mass_normalisation():
    # total mass of each density equals its mass parameter (radial quadrature)
    for m in (an.Plummer(1.7, 0.3), an.Hernquist(1.7, 0.3), an.Gaussian(1.7, 0.3)):
        f = lambda r: 4 * np.pi * r * r * m.density(along_x(m, 3, np.array([r])))[0]  # noqa: E731
        assert abs(integrate.quad(f, 0, np.inf, limit=400)[0] - 1.7) < 1e-6
    g2 = an.Gaussian(1.7, 0.3, ndim=2)
    f2 = lambda r: 2 * np.pi * r * g2.density(np.array([[r, 0.0]]))[0]  # noqa: E731
    assert abs(integrate.quad(f2, 0, np.inf)[0] - 1.7) < 1e-8


def test_gaussian_central_values():
    s = 0.2
    assert abs(an.Gaussian(1, s).potential(np.zeros((1, 3)))[0] + np.sqrt(2 / np.pi) / s) < 1e-12
    v2 = an.Gaussian(1, s, ndim=2).potential(np.zeros((1, 2)))[0]
    near = an.Gaussian(1, s, ndim=2).potential(np.array([[1e-7, 0.0]]))[0]
    assert abs(v2 - near) < 1e-6


def test_gaussian_thin_disc_against_quadrature():
    """phi(x) = -G int Sigma(x') / |x - x'| d^2x' in polar coordinates centred on x, where the
    1/rho singularity cancels the area element: phi = -G int_0^2pi int_0^inf Sigma(x + rho e_t)."""
    m = an.GaussianDisc(1.3, 0.2, G=0.8)
    t = np.linspace(0, 2 * np.pi, 128, endpoint=False)  # periodic: trapezoid is spectral
    u, w = np.polynomial.legendre.leggauss(200)
    for R in (0.0, 0.15, 0.6):
        rho_max = R + 12 * 0.2
        rho = rho_max / 2 * (u + 1)
        pts = np.stack([R + rho[:, None] * np.cos(t), rho[:, None] * np.sin(t)], -1)
        val = -0.8 * (m.surface_density(pts).sum(1) * (2 * np.pi / t.size) * w * rho_max / 2).sum()
        got = m.potential(np.array([[R, 0.0]]))[0]
        assert abs(got - val) < 1e-10 * abs(val), (R, got, val)


def test_kuzmin_disc():
    m = an.KuzminDisc(1.5, 0.4, ndim=3)
    x = np.array([[0.3, 0.2, 0.25], [0.7, -0.1, 0.5]])
    # harmonic off the plane
    d = 1e-3
    lap = -6 * m.potential(x)
    for a in range(3):
        e = np.zeros(3)
        e[a] = d
        lap = lap + m.potential(x + e) + m.potential(x - e)
    assert np.all(np.abs(lap / d**2) < 1e-4)
    # jump of dphi/dz across the plane = 4 pi G Sigma
    R = np.array([[0.3, 0.2, 1e-7], [0.3, 0.2, 1e-4]])
    dphidz = (m.potential(R[1]) - m.potential(R[0])) / (R[1, 2] - R[0, 2])
    sigma = an.KuzminDisc(1.5, 0.4).surface_density(np.array([[0.3, 0.2]]))[0]
    assert abs(2 * dphidz - 4 * np.pi * sigma) < 1e-3 * 4 * np.pi * sigma
    np.testing.assert_allclose(an.KuzminDisc(1.5, 0.4).potential(np.array([[0.3, 0.2]])),
                               m.potential(np.array([[0.3, 0.2, 0.0]])))


def test_fourier_mode():
    m = an.FourierMode(0.7, (2 * np.pi, 4 * np.pi, 0.0), phase=0.2, G=2.0)
    x = np.random.default_rng(0).random((5, 3))
    k2 = (2 * np.pi) ** 2 + (4 * np.pi) ** 2
    np.testing.assert_allclose(-k2 * m.potential(x), 4 * np.pi * 2.0 * m.density(x))
    d = 1e-6
    e = np.array([d, 0, 0])
    np.testing.assert_allclose(m.acceleration(x)[:, 0],
                               -(m.potential(x + e) - m.potential(x - e)) / (2 * d), atol=1e-6)


def test_ewald_alpha_independence_and_constant():
    x = np.random.default_rng(1).random((20, 3)) - 0.5
    a = an.ewald_potential(x, 1.0, alpha=3.0)
    b = an.ewald_potential(x, 1.0, alpha=7.0)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
    # lim_{r->0} (psi - 1/r) = Z_3(1) / L (the zeta singular value of the 3D kernel)
    for L in (1.0, 2.5):
        r = 1e-5 * L
        psi = an.ewald_potential(np.array([[r, 0, 0]]), L)[0]
        assert abs((psi - 1 / r) * L - an.EWALD_CONSTANT) < 1e-8
    assert an.EWALD_CONSTANT == fs.kernels.ZETA3


def test_ewald_force_is_minus_gradient():
    m = an.EwaldPointMass(1.3, center=(0.1, 0.2, -0.1), box=1.0)
    x = np.array([[0.3, 0.1, 0.2], [-0.4, 0.45, 0.0]])
    acc = m.acceleration(x)
    d = 1e-5
    for a in range(3):
        e = np.zeros(3)
        e[a] = d
        num = -(m.potential(x + e) - m.potential(x - e)) / (2 * d)
        np.testing.assert_allclose(acc[:, a], num, atol=1e-7)
    # alpha-independence of the force
    np.testing.assert_allclose(an.ewald_acceleration(x, 1.0, alpha=3.0),
                               an.ewald_acceleration(x, 1.0, alpha=8.0), atol=1e-12)
    # close to the source the force is Newtonian
    r = 1e-3
    a = an.ewald_acceleration(np.array([[r, 0, 0]]), 1.0)[0, 0]
    assert abs(a * r * r + 1) < 1e-5


def test_long_range_acceleration_is_smoothed_ewald():
    # with split r_s the long-range force plus the real-space erfc part is the full force
    rs = 0.04
    x = np.array([[0.1, 0.05, -0.02], [0.3, -0.2, 0.4]])
    full = an.ewald_acceleration(x, 1.0)
    lr = an.long_range_acceleration(x, 1.0, rs)
    alpha = 1 / (2 * rs)
    r = np.linalg.norm(x, axis=1)[:, None]
    short = -(sp.erfc(alpha * r) / r**2 + 2 * alpha / np.sqrt(np.pi) * np.exp(-(alpha * r) ** 2) / r) * x / r
    np.testing.assert_allclose(lr + short, full, atol=1e-10)


def test_gaussian_lattice_grid_and_points_agree():
    g = fs.Grid((16,) * 3, 1.0, origin=-0.5)
    m = an.GaussianLattice(1.0, 1 / 16, (0.0123, -0.0217, 0.0071), 1.0)
    on_grid = m.potential(g)
    pts = np.stack([c.ravel() for c in g.mesh()], -1)[::41]
    np.testing.assert_allclose(on_grid.ravel()[::41], m.potential(pts), atol=1e-12)
    assert abs(on_grid.mean()) < 1e-12 * np.abs(on_grid).max()  # zero mean (k = 0 dropped)
    # one unit mass per cell; the cell-centre sum is exact up to aliasing e^{-2 pi^2 (s/h)^2}
    assert abs(m.density(fs.Grid((32,) * 3, 1.0)).mean() - 1.0) < 1e-12


def test_gaussian_slab_mode_solves_its_ode():
    for ndim in (2, 3):
        m = an.GaussianSlabMode(0.1, 0.05, box=1.0, ndim=ndim)
        x = np.random.default_rng(2).random((6, ndim)) - 0.5
        d = 1e-3
        lap = -2 * ndim * m.potential(x)
        for a in range(ndim):
            e = np.zeros(ndim)
            e[a] = d
            lap = lap + m.potential(x + e) + m.potential(x - e)
        np.testing.assert_allclose(lap / d**2, 4 * np.pi * m.density(x), rtol=1e-4, atol=1e-4)


def test_compact_bump():
    m = an.CompactBump(0.4, ndim=3, center=(0.01, 0.0, -0.02))
    x = np.array([[0.1, 0.05, 0.2], [0.0, -0.3, 0.1]])
    d = 2.5e-4
    lap = -6 * m.potential(x)
    for a in range(3):
        e = np.zeros(3)
        e[a] = d
        lap = lap + m.potential(x + e) + m.potential(x - e)
    np.testing.assert_allclose(lap / d**2, 4 * np.pi * m.density(x), rtol=3e-4)
    assert m.potential(np.array([[0.5, 0.0, 0.0]]))[0] == 0.0


def test_coordinate_forms_and_errors():
    g = fs.Grid((4, 5, 6), 1.0)
    m = an.Plummer(1.0, 0.3, center=0.5)
    a = m.potential(g)
    b = m.potential(g.mesh())
    c = m.potential(np.stack(g.mesh(), -1))
    assert a.shape == g.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError):
        m.potential(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        an.Gaussian(1.0, -1.0)
    with pytest.raises(ValueError):
        an.Gaussian(1.0, 1.0, ndim=4)
    with pytest.raises(ValueError):
        an.FourierMode(1.0, (0, 0, 0))
