"""The kernel abstraction: every registered kernel's array (origin at index 0) and transfer
function agree by the convolution theorem; the numba deposit weights equal the window table."""
import numpy as np
import pytest

import fieldsolve as fs
from fieldsolve import kernels

GRIDS = [fs.Grid((16,), 2.0), fs.Grid((12, 10), (1.0, 0.8)), fs.Grid((8, 10, 6), (1.0, 1.25, 0.75))]


def test_registry_families():
    n = kernels.names()
    assert n["window"] == ("ngp", "cic", "tsc", "pcs")
    assert n["gradient"] == ("spectral", "fd2", "fd4")
    assert set(n["periodic"]) == {"spectral", "fd2", "fd4", "mehrstellen4", "optimal"}
    assert {"zeta", "chat2", "igf", "lgf", "vgf", "hej0", "hej2", "hej10"} <= set(n["free"])
    assert {"sharp", "gaussian", "box", "trapezoid", "simpson", "sg3"} <= set(n["filter"])
    with pytest.raises(ValueError, match="choose one of"):
        kernels.get("window", "quintic")
    with pytest.raises(ValueError, match="families"):
        kernels.names("stencils")


def _exact_kernels(grid):
    """Kernels whose transfer function is the DFT of their array (no aliasing)."""
    iso = len(set(grid.spacing)) == 1
    out = [kernels.get("gradient", m, axis=a) for m in ("fd2", "fd4", "spectral") for a in range(grid.ndim)]
    out += [kernels.get("periodic", n) for n in ("spectral", "fd2", "fd4", "optimal")]
    if iso:
        out.append(kernels.get("periodic", "mehrstellen4"))
    h = max(grid.spacing)
    out += [kernels.get("filter", "gaussian", width=3 * h), kernels.get("filter", "box", width=2.5 * h),
            kernels.get("filter", "sg5_gaussian", width=2 * h), kernels.get("filter", "trapezoid")]
    return out


@pytest.mark.parametrize("grid", GRIDS, ids=["1d", "2d", "3d"])
def test_array_and_transfer_agree(grid):
    for k in _exact_kernels(grid):
        arr = k.array(grid)
        t = np.broadcast_to(k.transfer(grid), grid.rfft_shape)
        dft = np.fft.rfftn(arr)
        if k.family == "periodic":
            dft.flat[0] = 0.0  # the dropped k = 0 mode
        np.testing.assert_allclose(dft, t, atol=1e-10 * np.abs(t).max(), err_msg=repr(k))


@pytest.mark.parametrize("grid", GRIDS, ids=["1d", "2d", "3d"])
def test_apply_is_the_periodic_convolution(grid):
    rng = np.random.default_rng(0)
    f = rng.random(grid.shape)
    for k in (kernels.get("gradient", "fd4", axis=grid.ndim - 1), kernels.get("periodic", "fd2"),
              kernels.get("filter", "sg3", width=1.5 * max(grid.spacing))):
        arr = k.array(grid)
        # direct circular convolution with the origin-at-index-0 weights
        direct = np.zeros(grid.shape)
        for idx in zip(*np.nonzero(np.abs(arr) > 1e-15)):
            direct += arr[idx] * np.roll(f, idx, axis=tuple(range(grid.ndim)))
        np.testing.assert_allclose(k.apply(grid, f), direct, atol=1e-12, err_msg=repr(k))


def test_gradient_stencil_is_the_fd_formula():
    g = fs.Grid((16,), 2.0)
    x = g.coords(0)
    f = np.sin(np.pi * x)
    h = g.spacing[0]
    fd4 = kernels.get("gradient", "fd4").apply(g, f)
    ref = (8 * (np.roll(f, -1) - np.roll(f, 1)) - (np.roll(f, -2) - np.roll(f, 2))) / (12 * h)
    np.testing.assert_allclose(fd4, ref, atol=1e-12)


@pytest.mark.parametrize("name", ["ngp", "cic", "tsc", "pcs"])
@pytest.mark.parametrize("grid", GRIDS, ids=["1d", "2d", "3d"])
def test_deposit_weights_equal_the_window_table(name, grid):
    """The numba kernels' weights, particle by particle and cell by cell, against
    prod_a w_p((x_a - c_a) / h_a) from kernels.windows."""
    w = kernels.get_window(name)
    rng = np.random.default_rng(1)
    pts = rng.random((25, grid.ndim)) * np.array(grid.box)
    # particles exactly on cell faces and centres too
    h = np.array(grid.spacing)
    pts = np.concatenate([pts, np.floor(pts[:5] / h) * h, (np.floor(pts[5:10] / h) + 0.5) * h])
    cells = np.meshgrid(*(np.arange(n) + 0.5 for n in grid.shape), indexing="ij")
    for x in pts:
        got = fs.deposit(grid, x[None], 1.0, name, density=False)
        expect = 1.0
        for a in range(grid.ndim):
            d = x[a] * (1 / h[a]) - cells[a]  # position in cell units, as the kernels compute it
            d = d - grid.shape[a] * np.round(d / grid.shape[a])  # periodic minimum image
            expect = expect * w.shape(d)
        np.testing.assert_allclose(got, expect, atol=1e-13, err_msg=f"{name} at {x}")
        assert abs(got.sum() - 1) < 1e-13


def test_ngp_face_convention():
    """A particle exactly on a face belongs to the upper cell, in the table and the deposit."""
    g = fs.Grid((8,), 8.0)
    assert fs.deposit(g, [[3.0]], 1.0, "ngp", density=False)[3] == 1.0
    w = kernels.get_window("ngp")
    assert w.shape(-0.5) == 1.0 and w.shape(0.5) == 0.0


@pytest.mark.parametrize("name", ["ngp", "cic", "tsc", "pcs"])
def test_window_array_is_a_centred_particle(name):
    g = fs.Grid((10, 8), 1.0)
    x = np.array([[0.05, 0.0625]])  # the centre of cell 0
    np.testing.assert_allclose(kernels.get_window(name).array(g),
                               fs.deposit(g, x, 1.0, name, density=False), atol=1e-14)


def test_free_kernel_array_is_even_with_origin_at_zero():
    g = fs.Grid((6, 5, 4), (0.6, 0.5, 0.4), periodic=False)
    for name in ("zeta", "chat2", "igf", "vgf"):
        k = kernels.get_kernel(name)
        arr = k.array(g)
        assert arr.shape == (12, 10, 8)
        for a in range(3):
            np.testing.assert_allclose(arr, np.roll(np.flip(arr, a), 1, a), rtol=1e-13, err_msg=name)
        t = k.transfer(g)
        np.testing.assert_allclose(t, np.fft.rfftn(arr).real, rtol=1e-10, atol=1e-14 * np.abs(t).max())


def test_older_spellings_still_work_with_a_warning():
    """Renamed arguments and the old field-first order keep working, with a DeprecationWarning
    (the README and docs used them)."""
    g = fs.Grid((8, 8), 1.0)
    rng = np.random.default_rng(2)
    x, f = rng.random((20, 2)), rng.random((8, 8))
    with pytest.warns(DeprecationWarning, match="window"):
        old = fs.deposit(g, x, scheme="tsc")
    np.testing.assert_array_equal(old, fs.deposit(g, x, window="tsc"))
    with pytest.warns(DeprecationWarning, match="grid, field"):
        old = fs.filter_field(f, g, "gaussian", 0.3)
    np.testing.assert_array_equal(old, fs.filter_field(g, f, "gaussian", 0.3))
    with pytest.warns(DeprecationWarning, match="grid, field"):
        old = fs.padded_product(np.fft.rfftn(f), np.fft.rfftn(f), g)
    np.testing.assert_array_equal(old, fs.padded_product(g, np.fft.rfftn(f), np.fft.rfftn(f)))
    with pytest.warns(DeprecationWarning, match="gradient="):
        old = fs.PoissonSolver(fs.Grid((8, 8), 1.0)).gradient(f, method="fd2")
    np.testing.assert_array_equal(old, fs.PoissonSolver(fs.Grid((8, 8), 1.0)).gradient(f, "fd2"))
    with pytest.warns(DeprecationWarning, match="gradient="):
        kernels.get("periodic", "optimal", differencing="fd4")
    with pytest.raises(TypeError, match="older name"):
        fs.deposit(g, x, scheme="tsc", window="cic")
    from fieldsolve.config import load_config
    with pytest.warns(FutureWarning, match="solver.window"):
        cfg = load_config("configs/zeldovich.yaml", ["solver={scheme: cic}"])
    assert cfg.solver.window == "cic"


def test_poisson_solver_spectrum_is_the_older_name_of_transfer():
    s = fs.PoissonSolver(fs.Grid((8, 8), 1.0))
    with pytest.warns(DeprecationWarning, match="transfer"):
        assert s.spectrum() is s.transfer()


def test_transfer_on_a_block_is_the_block_of_the_transfer():
    """Kernels evaluated on a block of the real-FFT layout (a rank's share of a distributed
    spectrum, fieldsolve.parallel.GridBlock) give that block of the global transfer function:
    the k = 0 mode and the Nyquist planes are found by mode number, not by index."""
    from fieldsolve.parallel import GridBlock
    g = fs.Grid((8, 6, 10), (1.0, 1.2, 0.9))
    iso = fs.Grid((8, 6, 10), (1.0, 0.75, 1.25))
    for grid in (g, iso):
        for sl in [(slice(0, 8), slice(0, 6), slice(2, 5)), (slice(3, 7), slice(1, 6), slice(0, 2)),
                   (slice(0, 8), slice(0, 6), slice(5, 6))]:
            b = GridBlock(grid, sl)
            ks = [kernels.get("periodic", n) for n in ("spectral", "fd2", "fd4", "optimal")]
            ks += [kernels.get("gradient", m, axis=a) for m in ("spectral", "fd4") for a in range(3)]
            ks += [kernels.get("window", "tsc"), kernels.get("filter", "gaussian", width=0.3),
                   kernels.get("periodic", "optimal", interlace=True, split=0.1)]
            if grid is iso:
                ks.append(kernels.get("periodic", "mehrstellen4"))
            for k in ks:
                full = np.broadcast_to(k.transfer(grid), grid.rfft_shape)[sl]
                np.testing.assert_allclose(np.broadcast_to(k.transfer(b), b.rfft_shape), full,
                                           rtol=1e-14, atol=0, err_msg=repr(k))
