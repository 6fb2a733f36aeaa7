"""Distributed LES: filters, SGS stresses, strain rate, derivatives, spectra, the a-priori
pipeline and synthetic turbulence against serial (1e-13 relative to the largest serial value;
the transforms differ from serial FFTW's in rounding). Filters' transfer functions on a rank's
block equal the serial layout's block."""
import logging

import numpy as np
import pytest
from conftest import allmax
from test_solvers import TOL, everywhere, mine, rel

import fieldsolve as fs
from fieldsolve import les, sgs, spectra
from fieldsolve.filters import filter_field, make_filter
from fieldsolve.parallel import Decomposition
from fieldsolve.turbulence import synthetic_turbulence

G3 = fs.Grid((25, 25, 25), 2 * np.pi)  # 13 + 12 and 9 + 8 + 8 planes
G2 = fs.Grid((24, 18), (2 * np.pi, 1.5 * np.pi))
H = G3.spacing[0]
FILTERS = [("gaussian", 4 * H), ("sharp", 3 * H), ("box", 3 * H), ("trapezoid", None), ("sg5_box", 3 * H)]


def velocity(g, seed=1):
    return synthetic_turbulence(g, k_peak=3.0, seed=seed)


def close(comm, a, b):
    """Scalars (the same on every rank): relative difference, largest over the ranks."""
    return allmax(comm, abs(a - b) / abs(b))


@pytest.mark.parametrize("g", [G3, G2, fs.Grid((50, 8, 8), (5.0, 0.8, 0.8))])
@pytest.mark.parametrize("kind, width", FILTERS)
def test_filter_field(comm, g, kind, width):
    d = Decomposition(g, comm)
    f = np.random.default_rng(0).standard_normal((2,) + g.shape)
    width = None if width is None else width * max(g.spacing) / H
    ref = filter_field(g, f, kind, width)
    assert rel(comm, filter_field(d, mine(d, f), kind, width), mine(d, ref)) < TOL
    serial = make_filter(g, kind, width)
    block = make_filter(d, kind, width)
    assert rel(comm, block.transfer, np.broadcast_to(serial.transfer, g.rfft_shape)[d.k_slices]) < TOL
    # a filter made for the whole grid, used on the decomposition: its block is taken
    assert rel(comm, filter_field(d, mine(d, f), serial), mine(d, ref)) < TOL


def test_kernel_filter_and_compose(comm):
    g = G3
    d = Decomposition(g, comm)
    kernel = fs.filters.filter_kernel(g, "gaussian", 3 * H)
    f = np.random.default_rng(1).standard_normal(g.shape)
    ref = filter_field(g, f, "kernel", kernel=kernel)
    assert rel(comm, filter_field(d, mine(d, f), "kernel", kernel=kernel), mine(d, ref)) < TOL
    both = make_filter(d, "gaussian", 2 * H).compose(make_filter(g, "box", 3 * H))
    ref = make_filter(g, "gaussian", 2 * H).compose(make_filter(g, "box", 3 * H)).apply(f)
    assert rel(comm, both.apply(mine(d, f)), mine(d, ref)) < TOL
    if d.split:
        with pytest.raises(ValueError, match="different decomposition"):
            make_filter(g, "box", 3 * H).compose(make_filter(d, "gaussian", 2 * H))


@pytest.mark.parametrize("g", [G3, G2])
def test_stress_strain_derivatives(comm, g):
    d = Decomposition(g, comm)
    u = velocity(g)
    ul = mine(d, u)
    tau, ubar = sgs.sgs_stress(g, u, "gaussian", 4 * H, return_filtered=True)
    ltau, lubar = sgs.sgs_stress(d, ul, "gaussian", 4 * H, return_filtered=True)
    assert rel(comm, ltau, mine(d, tau)) < TOL and rel(comm, lubar, mine(d, ubar)) < TOL
    assert rel(comm, sgs.strain_rate(d, ul), mine(d, sgs.strain_rate(g, u))) < TOL
    for a in range(g.ndim):
        for order in (1, 2):
            ref = spectra.derivative(g, u, a, order)
            assert rel(comm, spectra.derivative(d, ul, a, order), mine(d, ref)) < TOL
    ref = sgs.smagorinsky_stress(g, ubar, 0.17, 4 * H)
    assert rel(comm, sgs.smagorinsky_stress(d, lubar, 0.17, 4 * H), mine(d, ref)) < TOL


@pytest.mark.parametrize("g", [G3, G2])
def test_spectra(comm, g):
    d = Decomposition(g, comm)
    u = velocity(g, seed=2)
    e = spectra.mode_energy(g, u)
    assert rel(comm, spectra.mode_energy(d, mine(d, u)), e[d.k_slices]) < TOL
    for binning in ("shell_sum", "shell_average"):
        k, E = spectra.energy_spectrum(g, u, binning)
        lk, lE = spectra.energy_spectrum(d, mine(d, u), binning)
        assert np.array_equal(k, lk) and rel(comm, lE, E) < TOL


def test_dynamic_smagorinsky_and_apriori(comm):
    g = G3
    d = Decomposition(g, comm)
    u = velocity(g, seed=3)
    flt, test = {"kind": "gaussian", "width": 3 * H}, {"kind": "gaussian", "width": 6 * H}
    ref = les.apriori(g, u, filter=flt, test_filter=test)
    out = les.apriori(d, mine(d, u), filter=flt, test_filter=test)
    for name in ("ubar", "tau", "strain", "dissipation", "sgs_energy"):
        assert rel(comm, getattr(out, name), mine(d, getattr(ref, name))) < TOL, name
    for name in ("E", "E_filtered"):
        assert rel(comm, getattr(out, name), getattr(ref, name)) < TOL, name
    for name, value in ref.means.items():
        assert close(comm, out.means[name], value) < TOL, name
    for name in ("c_raw", "LM", "MM"):
        assert close(comm, getattr(out.dynamic, name), getattr(ref.dynamic, name)) < TOL, name
    assert out.dynamic.alpha == ref.dynamic.alpha and out.filter == ref.filter


@pytest.mark.parametrize("g, options", [(G3, {}), (G3, {"rescale": "mode"}),
                                        (fs.Grid((50, 8, 8), (5.0, 0.8, 0.8)), {"normalize": "field"}),
                                        (G2, {"spectrum": "von_karman"}), (G3, {"dtype": np.float32})])
def test_synthetic_turbulence_is_the_same_field_for_any_rank_count(comm, g, options):
    """The noise is drawn per global plane (its own child SeedSequence), so every rank draws its
    planes: equal to the serial field for P = 1, 2, 3, hence the same field for any P."""
    d = Decomposition(g, comm)
    ref = synthetic_turbulence(g, k_peak=3.0, seed=7, **options)
    out = synthetic_turbulence(d, k_peak=3.0, seed=7, **options)
    assert everywhere(comm, out.shape == (g.ndim,) + d.local_shape) and out.dtype == ref.dtype
    assert rel(comm, out, mine(d, ref)) < (1e-6 if ref.dtype == np.float32 else TOL)


def test_synthetic_turbulence_without_seed_is_one_field(comm, caplog):
    """``seed=None``: rank 0's fresh entropy is used (and logged) on every rank."""
    d = Decomposition(G2, comm)
    with caplog.at_level(logging.INFO, logger="fieldsolve.turbulence"):
        synthetic_turbulence(d, k_peak=3.0, seed=None)
    entropy = int(caplog.text.split("entropy = ")[1].split()[0])
    seen = comm.allgather(entropy) if comm is not None else [entropy]
    assert len(set(seen)) == 1


@pytest.mark.parametrize("name, call", [
    ("dealias", lambda d, X: spectra.dealias(d, X)),
    ("dealias_mask", lambda d, X: spectra.dealias_mask(d)),
    ("pad_spectrum", lambda d, X: spectra.pad_spectrum(d, X, (32, 32, 32))),
    ("truncate_spectrum", lambda d, X: spectra.truncate_spectrum(d, X, (16, 16, 16))),
    ("padded_product", lambda d, X: spectra.padded_product(d, X, X)),
    ("compensate", lambda d, X: fs.compensate(d, X)),
])
def test_whole_grid_functions_refuse_a_split_mesh(comm, name, call):
    """No distributed form yet: a split decomposition gets a clear error (it was an
    AttributeError from inside); an unsplit one (one rank) is its grid, and gives the serial
    result."""
    g = G3
    d = Decomposition(g, comm)
    X = np.fft.rfftn(np.random.default_rng(2).standard_normal(g.shape))
    if d.split:
        with pytest.raises(ValueError, match=f"{name} works on whole grids only"):
            call(d, X)
    else:
        np.testing.assert_array_equal(call(d, X), call(g, X))
