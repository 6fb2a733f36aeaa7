"""SGS stresses: energy identities, Germano identity, positivity, strain rate, dynamic procedure
algebra and the a-priori pipeline. (No test of the sign of Pi or of the value of the dynamic
coefficient on synthetic fields: both are random there.)"""
import logging
import math

import numpy as np
import pytest

from fieldsolve import Grid, les
from fieldsolve.filters import filter_field, make_filter
from fieldsolve.sgs import (dynamic_smagorinsky, leonard_stress, sgs_dissipation, sgs_energy,
                            sgs_stress, smagorinsky_stress, strain_magnitude, strain_rate)
from fieldsolve.spectra import derivative, energy_spectrum, mode_energy
from fieldsolve.turbulence import synthetic_turbulence

G32 = Grid((32, 32, 32), 2 * np.pi)
H = G32.spacing[0]


@pytest.fixture(scope="module")
def u32():
    return synthetic_turbulence(G32, "passot_pouquet", k_peak=4.0, u_rms=1.0, seed=2024)


FILTERS = [("gaussian", 4 * H), ("box", 3 * H), ("sharp", 4 * H), ("trapezoid", None),
           ("sg5_box", 3 * H)]


@pytest.mark.parametrize("kind,width", FILTERS)
def test_mean_sgs_energy_identities(u32, kind, width):
    F = make_filter(G32, kind, width)
    tau, ubar = sgs_stress(G32, u32, F, return_filtered=True)
    e = mode_energy(G32, u32)
    G = F.transfer
    kr = sgs_energy(tau).mean()
    kr_pred = np.sum((1 - G ** 2) * e)
    resid = 0.5 * np.mean(np.sum((u32 - ubar) ** 2, axis=0))
    resid_pred = np.sum((1 - G) ** 2 * e)
    total = e.sum()
    assert abs(kr - kr_pred) < 1e-12 * total
    assert abs(resid - resid_pred) < 1e-12 * total
    if kind == "sharp":
        # both equal the energy at |k| >= k_c, counted directly on the lattice
        kmag = np.sqrt(G32.k2())
        above = np.sum(e[kmag >= math.pi / width * (1 - 1e-9)])
        assert abs(kr - above) < 1e-12 * total and abs(resid - above) < 1e-12 * total
        assert above > 1e-3 * total
    else:
        assert kr > 1.2 * resid  # they differ for every filter that is not a projection


@pytest.mark.parametrize("bar,hat", [(("gaussian", 3 * H), ("gaussian", 6 * H)),
                                     (("sharp", 2 * H), ("sharp", 4 * H)),
                                     (("box", 2 * H), ("trapezoid", None))])
def test_germano_identity(u32, bar, hat):
    Fb, Ft = make_filter(G32, *bar), make_filter(G32, *hat)
    tau, ubar = sgs_stress(G32, u32, Fb, return_filtered=True)
    L = leonard_stress(G32, ubar, Ft)
    T = sgs_stress(G32, u32, Fb.compose(Ft))  # T_ij with the combined filter applied at once
    tau_hat = filter_field(G32, tau, Ft)
    assert np.abs(L - (T - tau_hat)).max() < 1e-13
    assert np.abs(L).max() > 1e-2  # not trivially zero


@pytest.mark.parametrize("kind,width", [("trapezoid", None), ("simpson", None), ("sg3", 3 * H),
                                        ("gaussian", 8 * H)])
def test_tau_positive_semidefinite_for_positive_kernels(u32, kind, width):
    F = make_filter(G32, kind, width)
    assert F.positive
    tau = sgs_stress(G32, u32, F)
    ev = np.linalg.eigvalsh(np.moveaxis(tau, (0, 1), (-2, -1)))
    assert ev.min() >= -1e-12


def test_sharp_filter_tau_is_indefinite(u32):
    # the sharp kernel changes sign, so tau has negative eigenvalues (here most points)
    F = make_filter(G32, "sharp", 4 * H)
    assert not F.positive
    ev = np.linalg.eigvalsh(np.moveaxis(sgs_stress(G32, u32, F), (0, 1), (-2, -1)))
    assert (ev[..., 0] < -1e-6).mean() > 0.5


def test_tau_symmetric_and_equal_to_definition(u32, rng):
    F = make_filter(G32, "gaussian", 3 * H)
    tau = sgs_stress(G32, u32, "gaussian", 3 * H)
    assert tau.shape == (3, 3) + G32.shape
    np.testing.assert_array_equal(tau, np.swapaxes(tau, 0, 1))
    ub = F(u32)
    np.testing.assert_allclose(tau[0, 2], F(u32[0] * u32[2]) - ub[0] * ub[2], rtol=0, atol=1e-14)
    t32 = sgs_stress(G32, u32.astype(np.float32), F)
    assert t32.dtype == np.float32
    assert np.abs(t32 - tau).max() < 1e-5


def test_strain_rate_taylor_green():
    g = Grid((16, 16, 16), 2 * np.pi)
    x, y, z = g.mesh()
    u = np.stack([np.sin(x) * np.cos(y) * np.cos(z), -np.cos(x) * np.sin(y) * np.cos(z), 0 * x])
    S = strain_rate(g, u)
    Sxx = np.cos(x) * np.cos(y) * np.cos(z)
    Sxz = -0.5 * np.sin(x) * np.cos(y) * np.sin(z)
    Syz = 0.5 * np.cos(x) * np.sin(y) * np.sin(z)
    for (i, j), ref in {(0, 0): Sxx, (1, 1): -Sxx, (2, 2): 0 * x, (0, 1): 0 * x,
                        (0, 2): Sxz, (2, 1): Syz}.items():
        assert np.abs(S[i, j] - ref).max() < 1e-13
    # |S|^2 = 2 S_ij S_ij, contractions
    np.testing.assert_allclose(strain_magnitude(S) ** 2,
                               2 * (2 * Sxx ** 2 + 2 * Sxz ** 2 + 2 * Syz ** 2), rtol=0, atol=1e-13)
    tau = np.zeros((3, 3) + g.shape)
    tau[0, 2] = tau[2, 0] = 1.0
    tau[1, 1] = 2.0
    np.testing.assert_allclose(sgs_dissipation(tau, S), -(2 * Sxz + 2 * -Sxx), atol=1e-13)
    np.testing.assert_allclose(sgs_energy(tau), 1.0)


def test_smagorinsky_stress_is_traceless_eddy_viscosity(u32):
    ub = filter_field(G32, u32, "gaussian", 4 * H)
    tm = smagorinsky_stress(G32, ub, cs=0.17, delta=4 * H)
    S = strain_rate(G32, ub)
    assert np.abs(np.einsum("ii...->...", tm)).max() < 1e-12 * np.abs(tm).max()
    # energy flux of the model is (C_S Delta)^2 |S|^3 >= 0 pointwise
    Pi = sgs_dissipation(tm, S)
    np.testing.assert_allclose(Pi, (0.17 * 4 * H) ** 2 * strain_magnitude(S) ** 3, rtol=1e-12, atol=1e-14)


def test_dynamic_procedure_algebra(u32, caplog):
    Fb = make_filter(G32, "gaussian", 3 * H)
    Ft = make_filter(G32, "gaussian", 6 * H)
    ub = Fb(u32)
    with caplog.at_level(logging.INFO, logger="fieldsolve.sgs"):
        res = dynamic_smagorinsky(G32, ub, Ft, Fb, clip=False)
    assert abs(res.alpha - math.sqrt(5)) < 1e-15 and "alpha" in caplog.text
    assert res.delta == pytest.approx(3 * H, rel=1e-14)
    # recompute c = <L^d M>/<M M> from the public building blocks
    L = leonard_stress(G32, ub, Ft)
    L = L - np.eye(3)[:, :, None, None, None] * np.einsum("ii...->...", L) / 3
    S = strain_rate(G32, ub)
    Sh = strain_rate(G32, Ft(ub))
    M = 2 * (3 * H) ** 2 * (Ft(strain_magnitude(S) * S) - 5 * strain_magnitude(Sh) * Sh)
    c = np.sum(L * M) / np.sum(M * M)
    assert abs(res.c_raw - c) < 1e-12 * abs(c)
    # scale invariance: u -> 3u leaves c unchanged; c ~ Delta^-2
    assert abs(dynamic_smagorinsky(G32, 3 * ub, Ft, Fb, clip=False).c_raw - res.c_raw) < 1e-12 * abs(c)
    r2 = dynamic_smagorinsky(G32, ub, Ft, delta=6 * H, alpha=res.alpha, clip=False)
    assert abs(r2.c_raw * 4 - res.c_raw) < 1e-12 * abs(c)
    clipped = dynamic_smagorinsky(G32, ub, Ft, Fb, clip=True)
    assert clipped.c == max(res.c_raw, 0.0) and clipped.cs == pytest.approx(math.sqrt(clipped.c))
    with pytest.raises(ValueError, match="alpha"):
        dynamic_smagorinsky(G32, ub, Ft, delta=3 * H)


def test_apriori_pipeline_consistency(u32):
    res = les.apriori(G32, u32, filter={"kind": "gaussian", "width": 3 * H},
                      test_filter={"kind": "gaussian", "width": 6 * H})
    tau, ub = sgs_stress(G32, u32, "gaussian", 3 * H, return_filtered=True)
    np.testing.assert_array_equal(res.ubar, ub)
    np.testing.assert_array_equal(res.tau, tau)
    np.testing.assert_allclose(res.dissipation, sgs_dissipation(tau, strain_rate(G32, ub)), atol=1e-14)
    assert res.means["mean_sgs_energy"] == pytest.approx(sgs_energy(tau).mean(), rel=1e-14)
    dyn = dynamic_smagorinsky(G32, ub, {"kind": "gaussian", "width": 6 * H},
                              {"kind": "gaussian", "width": 3 * H})
    assert res.dynamic.c == dyn.c and res.dynamic.alpha == pytest.approx(math.sqrt(5))
    k, E = energy_spectrum(G32, u32)
    np.testing.assert_array_equal(res.k, k)
    np.testing.assert_array_equal(res.E, E)
    assert np.all(res.E_filtered <= res.E + 1e-15)  # Gaussian: |G|^2 <= 1 in every shell
    s = res.summary()
    assert s["filter"]["width_convention"] == "pope" and s["alpha"] == res.dynamic.alpha
    nodyn = les.apriori(G32, u32, filter=make_filter(G32, "sharp", 4 * H), spectra=False)
    assert nodyn.dynamic is None and nodyn.k.size == 0


def test_bad_velocity_input(u32):
    with pytest.raises(ValueError, match="one component per axis"):
        sgs_stress(G32, u32[:2], "gaussian", 3 * H)
    with pytest.raises(ValueError, match="one component per axis"):
        strain_rate(G32, u32[0])
    g = Grid((32, 32, 32), 2 * np.pi, periodic=(True, True, False))
    with pytest.raises(ValueError, match="periodic"):
        sgs_stress(g, u32, "gaussian", 3 * H)
    with pytest.raises(ValueError, match="below the grid spacing"):
        sgs_stress(G32, u32, "sharp", 0.5 * H)
    with pytest.raises(ValueError, match="filter="):
        les.apriori(G32, u32)


def test_derivative_spectral_divergence_of_tau_commutes(u32):
    # d_j tau_ij = filt(d_j(u_i u_j)) - d_j(ubar_i ubar_j): both sides spectral
    F = make_filter(G32, "gaussian", 4 * H)
    tau, ub = sgs_stress(G32, u32, F, return_filtered=True)
    lhs = sum(derivative(G32, tau[0, j], j) for j in range(3))
    rhs = F(sum(derivative(G32, u32[0] * u32[j], j) for j in range(3))) - \
        sum(derivative(G32, ub[0] * ub[j], j) for j in range(3))
    assert np.abs(lhs - rhs).max() < 1e-11


def _taylor_green_evolved(n=32, nu=1 / 200, t_end=3.0, dt=0.05):
    """Pseudo-spectral Navier-Stokes (rotational form, 2/3 rule, RK4) from the Taylor-Green vortex:
    an evolved field with a real energy cascade, unlike a random-phase synthetic field."""
    from fieldsolve import fft
    from fieldsolve.spectra import dealias_mask
    g = Grid((n,) * 3, 2 * np.pi)
    x, y, z = g.mesh()
    u = np.stack([np.sin(x) * np.cos(y) * np.cos(z), -np.cos(x) * np.sin(y) * np.cos(z), 0 * x])
    axes = (1, 2, 3)
    kv, k2 = g.kvectors(), g.k2()
    k2s = np.where(k2 > 0, k2, 1)
    mask = dealias_mask(g)

    def rhs(U):
        Um = U * mask
        vel = fft.irfftn(Um, g.shape, axes=axes)
        W = 1j * np.stack([kv[1] * Um[2] - kv[2] * Um[1], kv[2] * Um[0] - kv[0] * Um[2],
                           kv[0] * Um[1] - kv[1] * Um[0]])
        N = fft.rfftn(np.cross(vel, fft.irfftn(W, g.shape, axes=axes), axis=0), axes=axes) * mask
        div = sum(k * N[a] for a, k in enumerate(kv)) / k2s
        return np.stack([N[a] - kv[a] * div for a in range(3)]) - nu * k2 * U

    U = fft.rfftn(u, axes=axes)
    energies = []
    for _ in range(int(round(t_end / dt))):
        a = rhs(U)
        b = rhs(U + 0.5 * dt * a)
        c = rhs(U + 0.5 * dt * b)
        d = rhs(U + dt * c)
        U = U + dt / 6 * (a + 2 * b + 2 * c + d)
        energies.append(0.5 * np.sum(np.abs(U) ** 2 * (1 + (kv[2] > 0))) / g.size ** 2)
    return g, fft.irfftn(U, g.shape, axes=axes), np.array(energies)


@pytest.mark.slow
def test_forward_cascade_and_dynamic_coefficient_on_evolved_taylor_green():
    g, u, energies = _taylor_green_evolved()
    h = g.spacing[0]
    assert np.all(np.diff(energies) < 0)  # decaying flow
    for kind in ("gaussian", "sharp"):
        res = les.apriori(g, u, filter={"kind": kind, "width": 3 * h},
                          test_filter={"kind": kind, "width": 6 * h}, spectra=False)
        # net forward scatter and a Smagorinsky constant of the usual size (C_S ~ 0.1-0.2)
        assert res.means["mean_dissipation"] > 0
        assert 0.005 < res.dynamic.c_raw < 0.06
