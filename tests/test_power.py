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
