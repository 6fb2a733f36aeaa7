"""Distributed Poisson solves, gradients, PM mesh solves and power spectra against serial.

Every rank builds the same global data, runs the serial operation on it and compares its own
share of the distributed result. Tolerances: 1e-13 relative to the largest serial value (the
transforms differ from serial FFTW's in rounding, measured 2e-16 - 5e-15); FD gradients of a
given potential are bitwise equal (ghost planes, then the serial stencil).
"""
import sys
import types
import warnings

import numpy as np
import pytest
from conftest import allmax

import fieldsolve as fs
from fieldsolve.kernels import kernel_names
from fieldsolve.parallel import Decomposition
from fieldsolve.parallel import poisson as dpoisson

TOL = 1e-13
# uneven slabs on 2 and 3 ranks (25 = 13 + 12 = 9 + 8 + 8), a long thin box, a 2-D grid
SHAPES = [(25, 25, 25), (50, 8, 8), (24, 18)]


def grid(shape, periodic=True, h=0.1):
    return fs.Grid(shape, tuple(h * n for n in shape), periodic=periodic)


def source(shape, zero_mean=True, seed=0):
    f = np.random.default_rng(seed).standard_normal(shape)
    return f - f.mean() if zero_mean else f


def rel(comm, local, ref):
    """Largest difference over the ranks, relative to the largest reference value."""
    return allmax(comm, np.abs(local - ref).max()) / allmax(comm, np.abs(ref).max())


def everywhere(comm, ok):
    """True on every rank (a rank-dependent check, reduced so that all ranks fail together)."""
    return allmax(comm, 0.0 if ok else 1.0) == 0


def mine(d, full):
    """This rank's slab of a global array (leading component axes allowed)."""
    return full[(slice(None),) * (full.ndim - d.grid.ndim) + d.local_slice]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel", kernel_names("periodic"))
def test_periodic_solve_every_kernel(comm, shape, kernel):
    g = grid(shape)
    d = Decomposition(g, comm)
    f = source(shape)
    ds = fs.PoissonSolver(d, kernel)
    assert isinstance(ds, dpoisson.DistributedPoissonSolver)
    ref = fs.PoissonSolver(g, kernel).solve(f)
    assert rel(comm, ds.solve(mine(d, f)), mine(d, ref)) < TOL
    # the transfer function kept is this rank's block of the serial one
    full = np.broadcast_to(fs.PoissonSolver(g, kernel).transfer(), g.rfft_shape)
    assert rel(comm, ds.transfer(), full[d.k_slices]) < TOL


@pytest.mark.parametrize("shape", SHAPES)
def test_free_space_zeta(comm, shape):
    g = grid(shape, periodic=False)
    d = Decomposition(g, comm)
    f = source(shape, zero_mean=False)
    ref = fs.PoissonSolver(g, "zeta").solve(f)
    ds = fs.PoissonSolver(d, "zeta")
    assert rel(comm, ds.solve(mine(d, f)), mine(d, ref)) < TOL
    # the transfer function: this rank's block of the padded layout, from the even half
    assert rel(comm, ds.transfer(), fs.PoissonSolver(g, "zeta").transfer()[ds.k_slices]) < TOL


@pytest.mark.parametrize("shape, kernel, options", [
    ((16, 12, 10), "lgf", {}), ((16, 12, 10), "vgf", {}), ((16, 12, 10), "chat2", {"padding": "2n-1"}),
    ((24, 18), "zeta", {"geometry": "thin_disc"}),
    ((9, 6, 1), "chat2", {})])  # 2 columns of the padded spectrum: a third rank gets none
def test_free_space_other_kernels(comm, shape, kernel, options):
    g = grid(shape, periodic=False)
    d = Decomposition(g, comm)
    f = source(shape, zero_mean=False, seed=1)
    ref = fs.PoissonSolver(g, kernel, **options).solve(f)
    assert rel(comm, fs.PoissonSolver(d, kernel, **options).solve(mine(d, f)), mine(d, ref)) < TOL


@pytest.mark.parametrize("shape, periodic", [((25, 25, 25), (True, True, False)),
                                             ((25, 25, 25), (False, True, True)),
                                             ((24, 18), (False, True))])
@pytest.mark.parametrize("kernel", ["zeta", "chat2"])
def test_mixed_boundaries(comm, shape, periodic, kernel):
    g = grid(shape, periodic)
    d = Decomposition(g, comm)
    f = source(shape, zero_mean=False, seed=2)
    ref = fs.PoissonSolver(g, kernel).solve(f)
    assert rel(comm, fs.PoissonSolver(d, kernel).solve(mine(d, f)), mine(d, ref)) < TOL


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("periodic", [True, False, "first-free"])
def test_gradients(comm, shape, periodic):
    per = (False,) + (True,) * (len(shape) - 1) if periodic == "first-free" else periodic
    g = grid(shape, per)
    d = Decomposition(g, comm)
    phi = source(shape, seed=3)
    methods = ["fd2", "fd4"] + (["spectral"] if g.all_periodic else [])
    for m in methods:
        ref = mine(d, fs.poisson.gradient(g, phi, m))
        out = dpoisson.gradient(d, mine(d, phi), m)
        if m == "spectral":
            assert rel(comm, out, ref) < TOL
        else:  # bitwise: ghost planes, then the serial stencil (one-sided at bounded ends)
            assert allmax(comm, np.abs(out - ref).max()) == 0, m


@pytest.mark.parametrize("periodic", [True, False])
def test_field(comm, periodic):
    g = grid((25, 25, 25), periodic)
    d = Decomposition(g, comm)
    f = source(g.shape, seed=4)
    s, ds = fs.PoissonSolver(g), fs.PoissonSolver(d)
    for m in ["fd4"] + (["spectral"] if periodic else []):
        assert rel(comm, ds.field(mine(d, f), m), mine(d, s.field(f, m))) < TOL


@pytest.mark.parametrize("periodic", [True, False])
def test_float32(comm, periodic):
    g = grid((25, 25, 25), periodic)
    d = Decomposition(g, comm)
    f = source(g.shape).astype(np.float32)
    ds = fs.PoissonSolver(d)
    out = ds.solve(mine(d, f))
    assert out.dtype == np.float32
    assert rel(comm, out, mine(d, fs.PoissonSolver(g).solve(f))) < 1e-5
    # then float64 with the same solver (its buffers and transposes are per dtype)
    assert rel(comm, ds.solve(mine(d, f.astype(float))), mine(d, fs.PoissonSolver(g).solve(f.astype(float)))) < TOL


def test_thin_slabs_of_a_bounded_axis_fail_on_every_rank(comm):
    g = grid((6, 5, 4), periodic=False)
    d = Decomposition(g, comm)
    phi = mine(d, source(g.shape))
    if d.split and min(d.counts) < 3:  # 3 ranks: 2 planes each, fd4's end rows read 5 planes
        with pytest.raises(ValueError, match="planes on the first and last rank"):
            dpoisson.gradient(d, phi, "fd4")
    assert allmax(comm, np.abs(dpoisson.gradient(d, phi, "fd2")
                                - mine(d, fs.poisson.gradient(g, source(g.shape), "fd2"))).max()) == 0


@pytest.mark.parametrize("periodic", [True, False])
def test_errors_on_one_rank_raise_on_every_rank(comm, periodic):
    g = grid((9, 6, 4), periodic)
    d = Decomposition(g, comm)
    ds = fs.PoissonSolver(d)
    f = source(g.shape)
    f[-1, 0, 0] = np.nan  # on the last rank only: the k = 0 sum is on the first
    with pytest.raises(ValueError, match="NaN"):
        ds.solve(mine(d, f))
    bad = mine(d, source(g.shape))
    if d.rank == d.size - 1:
        bad = bad[:, :-1]
    with pytest.raises(ValueError, match="shape"):
        ds.solve(bad)


def test_mean_warns_on_every_rank(comm):
    g = grid((9, 6, 4))
    d = Decomposition(g, comm)
    f = source(g.shape) + 1.0
    with pytest.warns(RuntimeWarning, match="drops the k=0 mode"):
        fs.PoissonSolver(d).solve(mine(d, f))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fs.PoissonSolver(d, warn_mean=False).solve(mine(d, f))


PM_CASES = [((25, 25, 25), True, {}),  # defaults: tsc, fd4 kernel, fd4 gradient
            ((25, 25, 25), True, {"gradient": "spectral", "kernel": "optimal"}),
            ((24, 18), True, {"deconvolve": True, "split": 0.3, "gradient": "fd2"}),
            ((50, 8, 8), True, {"window": "cic", "interlace": True, "kernel": "spectral"}),
            ((25, 25, 25), False, {}),
            ((25, 25, 25), (True, True, False), {"gradient": "fd2"}),
            ((24, 18), False, {"deconvolve": True, "split": 0.3, "window": "cic"})]


@pytest.mark.parametrize("shape, periodic, settings", PM_CASES)
def test_particle_mesh_solve(comm, shape, periodic, settings):
    g = grid(shape, periodic)
    d = Decomposition(g, comm)
    rho = np.random.default_rng(5).random(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # deconvolve (measured aliases): expected
        pm, dpm = fs.pm.ParticleMesh(g, **settings), fs.pm.ParticleMesh(d, **settings)
    phi, E = pm.solve(rho, 4 * np.pi)
    lphi, lE = dpm.solve(mine(d, rho), 4 * np.pi)
    assert everywhere(comm, lE.shape == (g.ndim,) + d.local_shape)
    assert rel(comm, lphi, mine(d, phi)) < TOL
    assert rel(comm, lE, mine(d, E)) < TOL
    # without the potential the spectrum is reused for the last component: the same field
    lphi, lE2 = dpm.solve(mine(d, rho), 4 * np.pi, potential=False)
    assert lphi is None and allmax(comm, np.abs(lE2 - lE).max()) == 0


@pytest.mark.parametrize("shape", [(25, 25, 25), (50, 8, 8)])
@pytest.mark.parametrize("window", ["ngp", "cic", "tsc", "pcs"])
def test_particle_mesh_field_is_extended_in_place_by_the_readout(comm, shape, window):
    """ParticleMesh.solve makes E inside room for the readout's ghost planes (halo.with_room;
    its last transforms run in that room when it fits: 25^3, not 50 x 8 x 8): the readout fills
    the ghost planes in place and reads bit for bit what it reads from a copy of E."""
    from fieldsolve.parallel import dfft, halo, particles

    g = grid(shape)
    d = Decomposition(g, comm)
    pm = fs.pm.ParticleMesh(d, window=window)
    rho = source(g.shape, seed=6)
    E = pm.solve(mine(d, rho), 1.0, potential=False)[1]
    assert rel(comm, E, mine(d, fs.pm.ParticleMesh(g, window=window).solve(rho, 1.0)[1])) < TOL
    gh = pm.window.order // 2
    assert not d.split or gh == 0 or dfft._fits(d, gh, gh) == (shape[1] > 8)
    ext = halo.extend(d, E, gh, gh)
    assert everywhere(comm, np.array_equal(ext, halo.extend(d, E.copy(), gh, gh)))
    assert everywhere(comm, np.shares_memory(ext, E) == (d.split and gh > 0))
    x = np.random.default_rng(8).random((3000, 3)) * np.array(g.box)
    x = x[particles.owners(d, x) == d.rank]
    got = pm.readout(E, x)
    assert everywhere(comm, np.array_equal(got, particles.interpolate(d, E.copy(), x, window)))


@pytest.mark.parametrize("shape, h", [((25, 25, 25), 0.1), ((32, 16, 8), (0.1, 0.2, 0.4)),
                                      ((50, 8, 8), 0.1), ((24, 18), 0.1)])
@pytest.mark.parametrize("options", [{}, {"window": "cic", "shot_noise": 1e-3},
                                     {"window": "tsc", "compensation": "aliased", "interlaced": True},
                                     {"overdensity": False, "kedges": [0.0, 3.0, 7.5, 20.0, 50.0]}])
def test_power_spectrum(comm, shape, h, options):
    """Bins and edge rule as serial (integer rule on the first two boxes, whose lengths divide the
    longest; floating-point edges on the others): mode counts exact, power to 1e-13."""
    g = fs.Grid(shape, tuple(np.broadcast_to(h, len(shape)) * np.array(shape)))
    d = Decomposition(g, comm)
    rho = np.random.default_rng(6).random(shape) + 0.5
    for field in (rho, rho.astype(np.float32)):
        ref = fs.power_spectrum(g, field, **options)
        out = fs.power_spectrum(d, mine(d, field), **options)
        assert allmax(comm, np.abs(out.modes - ref.modes).max()) == 0
        full = ref.modes > 0
        assert np.array_equal(np.isnan(out.power), ~full) and full.any()
        assert allmax(comm, np.abs(out.k - ref.k)[full].max() / ref.k[full].max()) < TOL
        assert allmax(comm, np.abs(out.power - ref.power)[full].max() / np.abs(ref.power[full]).max()) < TOL


def test_power_spectrum_bad_field_on_one_rank(comm):
    g = grid((9, 6, 4))
    d = Decomposition(g, comm)
    rho = np.ones(g.shape)
    rho[-1, -1, -1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        fs.power_spectrum(d, mine(d, rho))
    with pytest.raises(ValueError, match="shape"):
        fs.power_spectrum(d, mine(d, rho)[:, 1:] if d.rank == 0 else mine(d, rho))


@pytest.mark.parametrize("periodic", [True, False])
def test_one_dimensional_grids_are_replicated(comm, periodic):
    """A 1-D mesh is whole on every rank: the serial code runs there, bitwise equal."""
    g = grid((64,), periodic)
    d = Decomposition(g, comm)
    f = source(g.shape)
    assert d.local_shape == g.shape
    assert allmax(comm, np.abs(fs.PoissonSolver(d).solve(f) - fs.PoissonSolver(g).solve(f)).max()) == 0
    _, E = fs.pm.ParticleMesh(d).solve(f + 2.0, 1.0)
    assert allmax(comm, np.abs(E - fs.pm.ParticleMesh(g).solve(f + 2.0, 1.0)[1]).max()) == 0
    if periodic:
        p, q = fs.power_spectrum(d, f + 2.0), fs.power_spectrum(g, f + 2.0)
        assert np.array_equal(p.power, q.power, equal_nan=True)


def test_paint_and_readout_call_the_distributed_particles(comm, monkeypatch):
    """On several ranks ParticleMesh paints and reads out through fieldsolve.parallel.particles
    (the agreed API, stubbed here: that module is built on another branch); on one rank through
    the serial deposit/interpolate."""
    import fieldsolve.parallel

    calls = []

    def deposit(decomp, positions, weights=None, window=None, *, density=True, interlace=False,
                outside="raise", dtype=None):
        calls.append(("deposit", decomp, window.name, density, interlace))
        return np.zeros(decomp.local_shape)

    def interpolate(decomp, local_field, positions, window=None, *, interlace=False):
        calls.append(("interpolate", decomp, window.name, local_field.shape, interlace))
        return np.zeros((len(positions), local_field.shape[0]))

    stub = types.ModuleType("fieldsolve.parallel.particles")
    stub.deposit, stub.interpolate = deposit, interpolate
    monkeypatch.setitem(sys.modules, "fieldsolve.parallel.particles", stub)
    monkeypatch.setattr(fieldsolve.parallel, "particles", stub, raising=False)
    g = grid((12, 8, 6))
    d = Decomposition(g, comm)
    pm = fs.pm.ParticleMesh(d, window="cic", interlace=True)
    x = np.random.default_rng(7).random((50, 3)) * np.array(g.box)
    rho = pm.paint(x, 2.0, density=False)
    E = pm.solve(rho, 1.0)[1]
    pm.readout(E, x)
    if d.size > 1:
        assert everywhere(comm, calls == [("deposit", d, "cic", False, True),
                                          ("interpolate", d, "cic", E.shape, True)])
    else:
        assert calls == []
        assert np.array_equal(rho, fs.deposit(g, x, 2.0, "cic", density=False, interlace=True))
