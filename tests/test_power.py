import numpy as np
import pytest

import fieldsolve as fs
from fieldsolve import Grid


def test_single_mode_power_and_normalisation():
    """delta = A cos(k0 x) has P = V A^2 / 4 on each of the two modes +-k0 (bin holds both)."""
    grid = Grid((32, 16, 8), (2.0, 1.0, 0.5))
    X, _, _ = grid.mesh()
    k0 = grid.kfundamental[0] * 3
    amp = 0.2
    rho = 5.0 * (1 + amp * np.cos(k0 * X))
    kf = grid.kfundamental[0]
    pk = fs.power_spectrum(grid, rho, kedges=np.arange(0.5 * kf, 10 * kf, kf))
    ib = np.flatnonzero(pk.modes > 0)
    hit = np.argmin(np.abs(pk.k - k0))
    # the bin also holds other modes with |k| ~ k0; total power sum = 2 * V A^2/4
    assert abs(pk.power[hit] * pk.modes[hit] - 2 * grid.volume * amp**2 / 4) < 1e-12
    others = np.delete(pk.power, hit)
    assert np.nanmax(np.abs(others)) < 1e-25 and ib.size > 3


def test_poisson_shot_noise_subtracts_to_zero(rng):
    grid = Grid((32, 32, 32), 1.0)
    n = 100_000
    x = rng.random((n, 3))
    shot = grid.volume / n
    for interlace in (False, True):
        rho = fs.deposit(grid, x, window="tsc", interlace=interlace)
        pk = fs.power_spectrum(grid, rho, window="tsc", interlaced=interlace, shot_noise=shot)
        # each bin averages `modes` exponential variates: sigma = shot / sqrt(modes); up to
        # Nyquist, since the subtracted form follows the aliases the (interlaced) deposit keeps
        z = pk.power / (shot / np.sqrt(pk.modes))
        assert np.abs(z).max() < 5, z
    # the alias-summed compensation whitens a non-interlaced field at all k
    rho = fs.deposit(grid, x, window="cic")
    pk = fs.power_spectrum(grid, rho, window="cic", compensation="aliased")
    z = (pk.power - shot) / (shot / np.sqrt(pk.modes))
    assert np.abs(z).max() < 5
    # without compensation the window suppresses small-scale power: measured < white
    raw = fs.power_spectrum(grid, rho)
    assert raw.power[-1] < 0.6 * shot


def test_power_spectrum_errors():
    grid = Grid((8, 8), 1.0)
    with pytest.raises(ValueError, match="shape"):
        fs.power_spectrum(grid, np.ones((8, 4)))
    with pytest.raises(ValueError, match="zero mean"):
        fs.power_spectrum(grid, np.zeros((8, 8)))
    with pytest.raises(ValueError, match="periodic"):
        fs.power_spectrum(Grid((8, 8), 1.0, periodic=False), np.ones((8, 8)))
    with pytest.raises(ValueError, match="compensation"):
        fs.power_spectrum(grid, np.ones((8, 8)), compensation="jing")
    with pytest.raises(ValueError, match="kedges"):
        fs.power_spectrum(grid, np.ones((8, 8)), kedges=[3.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        fs.power_spectrum(grid, np.full((8, 8), np.nan))


# -- the fused pass against the plain NumPy computation ------------------------------------------
def _reference(field, grid, kedges, window, interlaced, compensation, shot, overdensity):
    """Step by step with full-size arrays (the pre-fusion algorithm), binned by shell_average."""
    f = np.asarray(field, dtype=np.float64)
    if overdensity:
        f = f / f.mean() - 1.0
    pk = np.abs(np.fft.rfftn(f) * (grid.volume / grid.size)) ** 2 / grid.volume
    if window is not None:
        wf = (fs.window_alias_sum(grid, window) if compensation == "aliased"
              else fs.window_transfer(grid, window) ** 2)
        pk = pk / wf
    if shot is not None:
        if window is not None and compensation == "sinc":
            pk = pk - shot * fs.window_alias_sum(grid, window, interlaced=interlaced) / wf
        else:
            pk = pk - shot
    k, psum, modes = fs.power.shell_average(grid, pk, kedges)
    return k, psum / np.where(modes > 0, modes, 1), modes


@pytest.mark.parametrize("shape, box", [((16, 12, 10), (1.6, 1.2, 1.0)), ((15, 16, 9), 3.0),
                                        ((24, 20), (1.0, 2.0)), ((33,), 2.0),
                                        ((12, 10, 14), (1.1, 1.0, 1.3))])
def test_fused_pass_equals_reference(shape, box, rng):
    grid = Grid(shape, box)
    x = rng.random((4000, len(shape))) * np.array(grid.box)
    kf = min(grid.kfundamental)
    kedges = np.arange(0.5 * kf, min(grid.nyquist) * np.sqrt(len(shape)), kf)
    shot = grid.volume / 4000
    for window, interlaced, comp, sn, od, dtype in [
            (None, False, "sinc", None, True, np.float64), ("cic", False, "sinc", shot, True, np.float32),
            ("tsc", True, "sinc", shot, True, np.float64), ("pcs", False, "aliased", shot, False, np.float64),
            ("tsc", True, "aliased", None, True, np.float32), ("ngp", False, "sinc", shot, False, np.float64)]:
        rho = fs.deposit(grid, x, window=window or "cic", interlace=interlaced).astype(dtype)
        got = fs.power_spectrum(grid, rho, kedges=kedges, window=window, interlaced=interlaced,
                                compensation=comp, shot_noise=sn, overdensity=od)
        k, p, modes = _reference(rho, grid, kedges, window, interlaced, comp, sn, od)
        assert np.array_equal(got.modes, modes)
        ok = modes > 0
        np.testing.assert_allclose(got.k[ok], k[ok], rtol=1e-14)
        np.testing.assert_allclose(got.power[ok], p[ok], rtol=1e-10, atol=1e-12 * np.abs(p[ok]).max())
        assert np.all(np.isnan(got.power[~ok]))


def test_bin_edges_at_multiples_of_kf_are_exact():
    """Edges at n k_F: modes with |m| = n are in bin [n, n+1) -- counted here in integers --
    however the edges were rounded; numpy.digitize on floats moves some of them (this box)."""
    grid = Grid((32, 32, 32), 100.0)
    kf = grid.kfundamental[0]
    m = [grid.mode_numbers(a, rfft=True) for a in range(3)]
    q = m[0][:, None, None] ** 2 + m[1][None, :, None] ** 2 + m[2][None, None, :] ** 2
    w = fs.power.rfft_mode_weights(grid)
    n = np.arange(15)
    exact = np.array([w[(q >= a * a) & (q < (a + 1) ** 2)].sum() for a in n[:-1]])
    field = 1 + 0.1 * np.random.default_rng(2).standard_normal(grid.shape)
    for edges in (n * kf, n * (2 * np.pi / 100.0), np.arange(15.0) * 2 * np.pi / 100,
                  n * kf * (1 + 3e-16), n * kf * (1 - 3e-16)):
        pk = fs.power_spectrum(grid, field, kedges=edges)
        assert np.array_equal(pk.modes, exact)
        assert pk.power[0] == 0.0  # bin [0, k_F) holds k = 0 only, where delta has no power
        assert np.array_equal(fs.power.shell_average(grid, np.ones(grid.rfft_shape), edges)[2],
                              exact)
    # the float rule this replaces moves modes on this box (so the test can fail)
    kmag = np.sqrt(grid.k2())
    idx = np.digitize(kmag, n * kf) - 1
    floats = np.array([w[idx == b].sum() for b in n[:-1]])
    assert not np.array_equal(floats, exact)
    # edges at other mode radii (|m|^2 = 2, 3, 5) are exact too; the box need not be a cube
    g2 = Grid((16, 8, 16), (2.0, 1.0, 2.0))
    e2 = np.pi * np.sqrt([0, 2, 3, 5, 8])  # k_F = pi
    m = [g2.mode_numbers(a, rfft=True) * r for a, r in enumerate((1, 2, 1))]
    q2 = m[0][:, None, None] ** 2 + m[1][None, :, None] ** 2 + m[2][None, None, :] ** 2
    exact2 = [fs.power.rfft_mode_weights(g2)[(q2 >= a) & (q2 < b)].sum()
              for a, b in zip([0, 2, 3, 5], [2, 3, 5, 8])]
    got = fs.power_spectrum(g2, np.ones(g2.shape) + np.random.default_rng(3).random(g2.shape),
                            kedges=e2)
    assert np.array_equal(got.modes, exact2)


def test_power_spectrum_memory_is_one_mesh(rng):
    """Peak allocation beyond the input: one complex rfft array (about one float64 mesh) for
    float64 and float32 input (tracemalloc sees NumPy and pyFFTW buffers)."""
    import tracemalloc

    grid = Grid((48, 48, 48), 1.0)
    mesh = grid.size * 8
    for dtype in (np.float64, np.float32):
        field = (1 + 0.1 * rng.standard_normal(grid.shape)).astype(dtype)
        fs.power_spectrum(grid, field, window="tsc", shot_noise=1e-3)  # JIT, plans
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        fs.power_spectrum(grid, field, window="tsc", shot_noise=1e-3)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        assert peak < 1.25 * mesh, (dtype, peak / mesh)


def test_non_finite_values_are_found_without_a_separate_pass():
    grid = Grid((8, 8, 8), 1.0)
    for bad in ([np.inf], [np.nan], [np.inf, -np.inf]):
        f = np.ones(grid.shape)
        f.flat[[3, 77][:len(bad)]] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            fs.power_spectrum(grid, f)


@pytest.mark.parametrize("backend", fs.fft.available_backends())
def test_power_spectrum_on_each_fft_backend(backend, rng):
    """In-place transform of a cast copy (float32, Fortran order) or none (float64)."""
    grid = Grid((16, 18, 10), (1.6, 1.8, 1.0))
    field = 1 + 0.2 * rng.standard_normal(grid.shape)
    kedges = np.arange(0.5, 20) * min(grid.kfundamental)
    old = fs.fft.get_backend()
    fs.fft.set_backend(backend)
    try:
        for f in (field, field.astype(np.float32), np.asfortranarray(field)):
            pk = fs.power_spectrum(grid, f, kedges=kedges, window="cic", shot_noise=1e-3)
            _, ref, modes = _reference(f, grid, kedges, "cic", False, "sinc", 1e-3, True)
            assert np.array_equal(pk.modes, modes) and modes[-1] == 0
            np.testing.assert_allclose(pk.power[modes > 0], ref[modes > 0], rtol=1e-11)
    finally:
        fs.fft.set_backend(old)
