"""Deposit/readout: conservation, adjointness, exactness, textbook weights, determinism, errors."""
import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fieldsolve as fs
from fieldsolve import Grid, deposit, interpolate

SCHEMES = ["ngp", "cic", "tsc", "pcs"]
GRIDS = {
    "1d": Grid(24, 2.0),
    "2d": Grid((12, 9), (1.0, 1.5), origin=(-0.5, 2.0)),
    "3d": Grid((10, 8, 7), (1.0, 2.0, 0.7)),
}


def _inside(grid, n, rng, margin_cells=2.5):
    """Random positions whose stencils stay inside even a bounded grid."""
    lo = np.array(grid.origin) + margin_cells * np.array(grid.spacing)
    hi = np.array(grid.origin) + np.array(grid.box) - margin_cells * np.array(grid.spacing)
    return lo + (hi - lo) * rng.random((n, grid.ndim))


def _bounded(grid):
    return Grid(grid.shape, grid.box, grid.origin, periodic=False)


@pytest.fixture(params=["serial", "slab"])
def path(request, monkeypatch):
    """Run a test on the serial (input-order) path and on the slab-sorted parallel path, which
    ``assign`` otherwise picks by the amount of work."""
    from fieldsolve import assign

    monkeypatch.setattr(assign, "_PARALLEL_WORK", 1 << 62 if request.param == "serial" else 0)
    return request.param


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dim", ["1d", "2d", "3d"])
@pytest.mark.parametrize("periodic", [True, False])
def test_mass_conservation(scheme, dim, periodic, rng, path):
    grid = GRIDS[dim] if periodic else _bounded(GRIDS[dim])
    n = 30_000
    if periodic:  # anywhere on the line, wrapped
        x = np.array(grid.origin) + (rng.random((n, grid.ndim)) * 3 - 1) * np.array(grid.box)
    else:
        x = _inside(grid, n, rng)
    m = rng.random(n)
    rho = deposit(grid, x, m, scheme)
    assert abs(rho.sum() * grid.cell_volume - m.sum()) < 1e-12 * m.sum()
    counts = deposit(grid, x[:100], window=scheme, density=False)
    assert abs(counts.sum() - 100) < 1e-12 * 100


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dim", ["1d", "2d", "3d"])
def test_partition_of_unity_per_particle(scheme, dim, rng):
    grid = GRIDS[dim]
    for x in rng.random((20, grid.ndim)) * np.array(grid.box) + np.array(grid.origin):
        d = deposit(grid, x[None], window=scheme, density=False)
        assert abs(d.sum() - 1.0) < 1e-14
        assert (d >= 0).all() and np.count_nonzero(d) <= get_order(scheme) ** grid.ndim


def get_order(scheme):
    return fs.get_window(scheme).order


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dim", ["1d", "2d", "3d"])
@pytest.mark.parametrize("periodic", [True, False])
def test_readout_is_adjoint_of_deposit(scheme, dim, periodic, rng, path):
    grid = GRIDS[dim] if periodic else _bounded(GRIDS[dim])
    n = 25_000
    x = _inside(grid, n, rng)
    w = rng.standard_normal(n)
    F = rng.standard_normal(grid.shape)
    lhs = np.dot(interpolate(grid, F, x, scheme), w)
    rhs = np.sum(F * deposit(grid, x, w, scheme, density=False))
    scale = np.sum(np.abs(F) * deposit(grid, x, np.abs(w), scheme, density=False))
    assert abs(lhs - rhs) < 1e-13 * scale


def test_adjoint_with_vector_weights_and_dropped_stencils(rng):
    grid = Grid((9, 11), (1.0, 1.0), periodic=(False, True))
    x = rng.random((5000, 2)) * 1.2 - 0.1  # some stencils leave the bounded axis
    w = rng.standard_normal((5000, 3))
    F = rng.standard_normal((3,) + grid.shape)
    dep = deposit(grid, x, w, "tsc", density=False, outside="drop")
    assert dep.shape == (3, 9, 11)
    lhs = np.sum(interpolate(grid, F, x, "tsc", outside="drop") * w)
    assert abs(lhs - np.sum(F * dep)) < 1e-12 * np.abs(F).sum()
    assert np.all(dep[:, :, :].sum(axis=(1, 2)) <= np.abs(w).sum(axis=0) + 1e-9)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_constant_field_read_exactly(scheme, rng):
    grid = Grid((8, 10, 6), (1.0, 2.0, 3.0))
    x = rng.random((1000, 3)) * np.array(grid.box) * 2 - 0.5
    val = interpolate(grid, np.full(grid.shape, 3.25), x, scheme)
    np.testing.assert_allclose(val, 3.25, rtol=1e-14)


@pytest.mark.parametrize("scheme", ["cic", "tsc", "pcs"])
def test_linear_field_read_exactly_in_interior(scheme, rng):
    grid = Grid((10, 12, 9), (1.0, 2.0, 0.9), origin=(0.3, -1.0, 0.0), periodic=False)
    X, Y, Z = grid.mesh()
    F = 1.5 + 2.0 * X - 0.75 * Y + 4.0 * Z
    x = _inside(grid, 2000, rng)
    expect = 1.5 + 2.0 * x[:, 0] - 0.75 * x[:, 1] + 4.0 * x[:, 2]
    np.testing.assert_allclose(interpolate(grid, F, x, scheme), expect, rtol=0, atol=1e-13)
    vec = interpolate(grid, np.stack([F, 2 * F]), x, scheme)
    np.testing.assert_allclose(vec, np.stack([expect, 2 * expect], axis=1), atol=2e-13)


@pytest.mark.parametrize("scheme, at_centre, at_face", [
    ("ngp", [1.0], [0.0, 1.0]),                       # faces belong to the upper cell
    ("cic", [1.0], [0.5, 0.5]),
    ("tsc", [1 / 8, 3 / 4, 1 / 8], [0.0, 0.5, 0.5, 0.0]),
    ("pcs", [1 / 6, 2 / 3, 1 / 6], [1 / 48, 23 / 48, 23 / 48, 1 / 48]),
])
def test_textbook_weights(scheme, at_centre, at_face):
    grid = Grid(16, 16.0)  # h = 1; cell 8 spans [8, 9), centre 8.5
    d = deposit(grid, np.array([[8.5]]), window=scheme, density=False)
    half = len(at_centre) // 2
    np.testing.assert_allclose(d[8 - half: 8 - half + len(at_centre)], at_centre, atol=1e-15)
    assert abs(d.sum() - 1) < 1e-15
    d = deposit(grid, np.array([[9.0]]), window=scheme, density=False)  # face between cells 8, 9
    lo = 9 - len(at_face) // 2
    np.testing.assert_allclose(d[lo: lo + len(at_face)], at_face, atol=1e-15)
    # 3-D: the weights are the outer product of the 1-D ones
    g3 = Grid((16, 16, 16), 16.0)
    d3 = deposit(g3, np.array([[8.5, 8.5, 9.0]]), window=scheme, density=False)
    c, f = np.array(at_centre), np.array(at_face)
    block = d3[8 - half: 8 - half + len(c), 8 - half: 8 - half + len(c), lo: lo + len(f)]
    np.testing.assert_allclose(block, np.einsum("i,j,k->ijk", c, c, f), atol=1e-15)


def test_periodic_wrap_and_density_units():
    grid = Grid((4, 4), (2.0, 2.0))  # h = 0.5, cell volume 0.25
    d = deposit(grid, np.array([[0.1, 0.25], [2.1, -1.75]]), window="cic")
    # both particles are the same point modulo the box; x=0.1 sits 0.15 below cell 0's centre
    assert abs(d.sum() * 0.25 - 2.0) < 1e-14
    np.testing.assert_allclose(d[3, 0], 2 * 0.3 / 0.25)
    np.testing.assert_allclose(d[0, 0], 2 * 0.7 / 0.25)


@pytest.mark.parametrize("scheme", ["cic", "tsc", "pcs"])
def test_positions_many_periods_away_wrap(scheme, rng):
    """Periodic wrapping is a cheap conditional for positions within one period of the box and
    a true modulo beyond: both must agree with the wrapped positions (fast 3-D kernels, the
    slab sort, the generic kernels and readout)."""
    grid = Grid((16, 12, 8), (1.0, 1.5, 2.0))
    x = rng.random((30_000, 3)) * np.array(grid.box)
    shift = rng.integers(-5, 6, size=x.shape) * np.array(grid.box)  # up to 5 periods either way
    ref, far = deposit(grid, x, window=scheme), deposit(grid, x + shift, window=scheme)
    np.testing.assert_allclose(far, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    field = rng.standard_normal(grid.shape)
    np.testing.assert_allclose(interpolate(grid, field, x + shift, scheme),
                               interpolate(grid, field, x, scheme), atol=1e-9)



def _exact_image(x, o, L):
    """Reference image of x in [o, o + L) in exact rational arithmetic, rounded once."""
    from fractions import Fraction

    return float(Fraction(o) + (Fraction(x) - Fraction(o)) % Fraction(L))


# the cases: 1e18 put +-6e18 into 8 cells, 3e9 + 0.25 lost its mass, 1e300 gave NaN
FAR = [3e9 + 0.25, 2.0**62 + 0.5 * 2**10, 1e18, -1e18, 1e300, -1e300, np.finfo(float).max]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("x_far", FAR, ids=[f"{v:.3g}" for v in FAR])
def test_far_positions_deposit_exactly_at_their_image(scheme, x_far):
    """Any finite position on a periodic axis deposits (and reads out) exactly as its image in
    the box does, found by an exact modulo; unit weight, all of it in the grid."""
    grid = Grid((16, 16, 16), 1.0)
    image = _exact_image(x_far, 0.0, 1.0)
    got = deposit(grid, [[x_far, 0.5, 0.25]], window=scheme, density=False)
    ref = deposit(grid, [[image, 0.5, 0.25]], window=scheme, density=False)
    assert np.array_equal(got, ref) and got.sum() == pytest.approx(1.0, abs=1e-14)
    assert got.min() >= 0.0 and np.isfinite(got).all()
    field = np.arange(grid.size, dtype=float).reshape(grid.shape)
    assert interpolate(grid, field, [[x_far, 0.5, 0.25]], scheme)[0] == \
        interpolate(grid, field, [[image, 0.5, 0.25]], scheme)[0]


def test_far_positions_any_box_origin_and_path(rng):
    """A non-dyadic box and origin, many particles (slab-sorted deposit and readout), a mix of
    far and ordinary particles: the ordinary ones are untouched, the far ones land on their
    exact image, the total weight is kept."""
    grid = Grid((12, 10, 8), (0.7, 1.3, 2.1), origin=(-0.3, 5.0, 1e3))
    n = 40_000
    x = np.array(grid.origin) + rng.random((n, 3)) * np.array(grid.box)
    far = rng.random(n) < 0.01
    xf = x.copy()
    xf[far, 0] += rng.choice([-1, 1], far.sum()) * 10.0 ** rng.uniform(10, 300, far.sum())
    xf[far, 2] = 1e200
    images = xf.copy()
    for a in (0, 2):
        images[far, a] = [_exact_image(v, grid.origin[a], grid.box[a]) for v in xf[far, a]]
    for scheme in ("cic", "tsc"):
        got = deposit(grid, xf, window=scheme, density=False)
        ref = deposit(grid, images, window=scheme, density=False)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
        assert got.sum() == pytest.approx(n, rel=1e-13)
        field = rng.standard_normal(grid.shape)
        np.testing.assert_allclose(interpolate(grid, field, xf, scheme), interpolate(grid, field, images, scheme),
                                   atol=1e-8)
    assert np.array_equal(fs.sort_particles(grid, xf), fs.sort_particles(grid, images))


def test_all_particles_at_1e300_give_a_finite_grid():
    grid = Grid((16, 16, 16), 1.0)
    rho = deposit(grid, np.full((50_000, 3), 1e300), density=False)
    assert np.isfinite(rho).all() and rho.sum() == 50_000 and rho.min() >= 0


def test_far_periodic_coordinate_with_a_bounded_axis_outside_is_still_an_error():
    grid = Grid((16, 16), 1.0, periodic=(True, False))
    assert deposit(grid, [[1e18, 0.5]], density=False).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="leave the bounded grid on axis 1"):
        deposit(grid, [[1e18, 3.0]])
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="NaN or infinite"):
            deposit(grid, [[bad, 0.5]])

def test_interlacing_cancels_the_odd_alias():
    """A signal at k' = 2 pi/h - k_3 aliases onto mode 3 of the mesh; interlacing removes it."""
    n, L, per_cell = 32, 1.0, 16
    grid = Grid(n, L)
    x = (np.arange(n * per_cell) + 0.5) * L / (n * per_cell)
    k2, kalias = 2 * np.pi * 2 / L, 2 * np.pi * (n - 3) / L
    w = 1 + 0.3 * np.cos(k2 * x) + 0.2 * np.cos(kalias * x)
    for scheme in ["cic", "tsc", "pcs"]:
        plain = np.fft.rfft(deposit(grid, x[:, None], w, scheme))
        inter = np.fft.rfft(deposit(grid, x[:, None], w, scheme, interlace=True))
        wa = fs.get_window(scheme).transfer_1d(kalias, grid.spacing[0])
        w2 = fs.get_window(scheme).transfer_1d(k2, grid.spacing[0])
        # the alias is there with the predicted amplitude (up to the particle lattice's images)...
        assert abs(abs(plain[3]) / abs(plain[2]) / (0.2 * abs(wa) / (0.3 * w2)) - 1) < 0.02
        assert abs(inter[3]) < 1e-12 * abs(plain[2])         # ...and interlacing removes it
        assert abs(inter[2] - plain[2]) < 1e-12 * abs(plain[2])  # the signal is untouched
        assert abs(inter[0] - plain[0]) < 1e-12 * abs(plain[0])  # mass is conserved


def test_interlaced_shot_noise_is_closer_to_white(rng):
    """For random particles the interlaced, sinc-compensated power is flatter near Nyquist."""
    grid = Grid((32, 32, 32), 1.0)
    x = rng.random((200_000, 3))
    shot = grid.volume / x.shape[0]
    plain = fs.power_spectrum(grid, deposit(grid, x, window="cic"), window="cic")
    inter = fs.power_spectrum(grid, deposit(grid, x, window="cic", interlace=True),
                              window="cic", interlaced=True)
    hi = plain.k > 0.6 * min(grid.nyquist)
    err_plain = np.abs(plain.power[hi] / shot - 1).mean()
    err_inter = np.abs(inter.power[hi] / shot - 1).mean()
    assert err_inter < 0.5 * err_plain


@pytest.mark.parametrize("scheme", ["cic", "tsc"])
def test_float32_inputs_and_output(scheme, rng):
    grid = Grid((16, 16, 16), 1.0)
    x = rng.random((40_000, 3))
    d64 = deposit(grid, x, window=scheme)
    d32in = deposit(grid, x.astype(np.float32), window=scheme)
    assert d32in.dtype == np.float64
    # float32 positions carry ~6e-8 relative position error -> ~1e-6 relative density change
    np.testing.assert_allclose(d32in, d64, rtol=2e-5, atol=2e-5 * d64.max())
    assert abs(d32in.sum() * grid.cell_volume - 40_000) < 1e-12 * 40_000  # float64 accumulation
    d32out = deposit(grid, x, window=scheme, dtype=np.float32)
    assert d32out.dtype == np.float32
    np.testing.assert_allclose(d32out, d64, rtol=1e-6)
    F = rng.standard_normal(grid.shape).astype(np.float32)
    np.testing.assert_allclose(interpolate(grid, F, x.astype(np.float32), scheme),
                               interpolate(grid, F.astype(np.float64), x, scheme), rtol=1e-4, atol=1e-5)


def test_out_argument(rng):
    grid = Grid((8, 8), 1.0)
    x = rng.random((100, 2))
    out = np.full(grid.shape, 7.0)
    res = deposit(grid, x, out=out)
    assert res is out
    np.testing.assert_allclose(out, deposit(grid, x))
    with pytest.raises(ValueError, match="out has shape"):
        deposit(grid, x, out=np.zeros((8, 9)))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_bitwise_identical_for_any_thread_count(scheme, rng, path):
    grid = Grid((32, 24, 16), (1.0, 1.0, 0.5))
    x = rng.random((60_000, 3)) * np.array(grid.box)
    w = rng.random(60_000)
    F = rng.standard_normal(grid.shape)
    old = fs.get_num_threads()
    results = []
    try:
        for t in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS), numba.config.NUMBA_NUM_THREADS}):
            fs.set_num_threads(t)
            results.append((deposit(grid, x, w, scheme), interpolate(grid, F, x, scheme)))
    finally:
        fs.set_num_threads(old)
    for d, r in results[1:]:
        assert d.tobytes() == results[0][0].tobytes()
        assert r.tobytes() == results[0][1].tobytes()


def test_slab_path_matches_serial_path(rng, path):
    """Both paths agree with a plain numpy oracle."""
    grid = Grid((20, 6), (2.0, 0.6))
    x = rng.random((50_000, 2)) * np.array(grid.box)
    d = deposit(grid, x, window="cic", density=False)
    # numpy oracle: bincount of CIC weights
    u = x / np.array(grid.spacing) - 0.5
    i0 = np.floor(u).astype(int)
    f = u - i0
    ref = np.zeros(grid.shape)
    for a in (0, 1):
        for b in (0, 1):
            wt = (f[:, 0] if a else 1 - f[:, 0]) * (f[:, 1] if b else 1 - f[:, 1])
            np.add.at(ref, ((i0[:, 0] + a) % 20, (i0[:, 1] + b) % 6), wt)
    np.testing.assert_allclose(d, ref, rtol=1e-12)


def test_sort_particles_orders_by_cell_and_keeps_result(rng):
    grid = Grid((16, 16, 16), 1.0)
    x = rng.random((30_000, 3))
    order = fs.sort_particles(grid, x)
    assert sorted(order.tolist()) == list(range(30_000))
    cells = np.floor(x[order] * 16).astype(int)
    flat = np.ravel_multi_index(cells.T, grid.shape)
    assert np.all(np.diff(flat) >= 0)
    np.testing.assert_allclose(deposit(grid, x[order]), deposit(grid, x), rtol=1e-12)


# ---------------------------------------------------------------------- property tests
@settings(max_examples=40, deadline=None)
@given(
    dim=st.integers(1, 3),
    scheme=st.sampled_from(SCHEMES),
    n=st.integers(1, 60),
    seed=st.integers(0, 2**31),
    periodic=st.booleans(),
)
def test_property_conservation_and_adjointness(dim, scheme, n, seed, periodic):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(5, 12, size=dim))
    box = tuple(rng.uniform(0.5, 3.0, size=dim))
    grid = Grid(shape, box, origin=tuple(rng.uniform(-2, 2, size=dim)), periodic=periodic)
    x = _inside(grid, n, rng, margin_cells=2.0)
    w = rng.uniform(-1, 2, size=n)
    d = deposit(grid, x, w, scheme, density=False)
    assert abs(d.sum() - w.sum()) <= 1e-12 * (np.abs(w).sum() + 1)
    F = rng.standard_normal(shape)
    lhs = np.dot(interpolate(grid, F, x, scheme), w)
    assert abs(lhs - np.sum(F * d)) <= 1e-12 * (np.abs(F).sum() * np.abs(w).sum() + 1)


# ---------------------------------------------------------------------- bad input
def test_bad_inputs_give_clear_errors(rng):
    grid = Grid((8, 8), 1.0)
    x = rng.random((10, 2))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        deposit(grid, rng.random((10, 3)))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite.*index 3"):
        deposit(grid, bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        interpolate(grid, np.zeros(grid.shape), bad)
    with pytest.raises(ValueError, match="weight"):
        deposit(grid, x, np.r_[np.ones(9), np.inf])
    with pytest.raises(ValueError, match="10 particles"):
        deposit(grid, x, np.ones(7))
    with pytest.raises(ValueError, match="window"):
        deposit(grid, x, window="quintic")
    with pytest.raises(ValueError, match="outside"):
        deposit(grid, x, outside="clip")
    with pytest.raises(ValueError, match="field has shape"):
        interpolate(grid, np.zeros((8, 7)), x)
    with pytest.raises(ValueError, match="real"):
        interpolate(grid, np.zeros((8, 8), complex), x)
    with pytest.raises(ValueError, match="real numbers"):
        deposit(grid, np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="float32 or float64"):
        deposit(grid, x, dtype=np.int32)
    with pytest.raises(TypeError, match="Grid"):
        deposit((8, 8), x)


def test_out_of_box_on_bounded_axis_reports_count_and_axis():
    grid = Grid((8, 8), 1.0, periodic=(True, False))
    x = np.array([[0.5, 0.5], [0.5, 0.98], [0.5, 1.5], [-4.0, 0.5]])
    with pytest.raises(ValueError, match=r"axis 1: 2 \(first index 1"):
        deposit(grid, x, window="cic")
    d = deposit(grid, x, window="cic", density=False, outside="drop")
    assert 2.5 < d.sum() < 3.0  # particle 2 fully dropped, particle 1 partly
    with pytest.raises(ValueError, match="interlace"):
        deposit(grid, x[:1], interlace=True)


@pytest.mark.parametrize("scheme", ["cic", "tsc"])
@pytest.mark.parametrize("periodic, outside", [(True, "raise"), (False, "raise"), (False, "drop"),
                                               ((True, False, True), "drop")])
def test_unrolled_fast_path_matches_generic_kernel(scheme, periodic, outside, rng, monkeypatch, path):
    """3-D CIC/TSC take hand-unrolled kernels (readout with prefetching) on periodic, bounded
    and mixed grids; particles whose stencil a bounded axis cuts (``outside="drop"``) fall back
    to the generic code inside them. The generic kernels must agree to rounding, point by point,
    for scalar and 2-component paint and readout, on both deposit paths."""
    from fieldsolve import assign

    grid = Grid((12, 10, 9), (1.0, 1.3, 0.8), origin=(0.1, -0.2, 0.3), periodic=periodic)
    n = 30_000
    if outside == "drop":  # a fifth of the particles within a cell of a face or beyond it
        lo, hi = np.array(grid.origin), np.array(grid.origin) + np.array(grid.box)
        x = lo - 0.1 * (hi - lo) + 1.2 * (hi - lo) * rng.random((n, 3))
    elif grid.all_periodic:
        x = rng.random((n, 3)) * 3 - 1  # up to a period outside the box: wrapped
    else:
        x = _inside(grid, n, rng, margin_cells=1.5)
    w = rng.random((n, 2))
    F = rng.standard_normal((2,) + grid.shape)

    def run():
        return [deposit(grid, x, w[:, 0], scheme, outside=outside),
                deposit(grid, x, w, scheme, outside=outside),
                interpolate(grid, F[0], x, scheme, outside=outside),
                interpolate(grid, F, x, scheme, outside=outside)]

    fast = run()
    monkeypatch.setattr(assign, "_fast", lambda grid: False)
    generic = run()
    for a, b in zip(fast, generic):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13 * np.abs(b).max())
    if outside == "drop":  # the cut stencils were there, and lost weight
        assert fast[0].sum() * grid.cell_volume < w[:, 0].sum() * 0.99


@pytest.mark.parametrize("scheme", ["cic", "pcs"])
def test_slab_sorted_readout_returns_input_order_bitwise(scheme, rng, monkeypatch):
    """Readout from large grids sorts particles by slab for cache locality and puts the
    results back in input order: same bits as the unsorted path, errors still reported."""
    from fieldsolve import assign

    grid = Grid((24, 10, 8), (1.0, 1.0, 1.0), periodic=(True, False, True))
    x = _inside(grid, 40_000, rng)
    F = rng.standard_normal((2,) + grid.shape)
    monkeypatch.setattr(assign, "_PARALLEL_WORK", 0)
    monkeypatch.setattr(assign, "_READ_SORT_ABOVE", 1 << 40)
    plain = interpolate(grid, F, x, scheme)
    monkeypatch.setattr(assign, "_READ_SORT_ABOVE", 0)
    sorted_path = interpolate(grid, F, x, scheme)
    assert sorted_path.tobytes() == plain.tobytes()
    x[123, 1] = 5.0
    with pytest.raises(ValueError, match=r"axis 1: 1 \(first index 123"):
        interpolate(grid, F, x, scheme)


@pytest.mark.parametrize("value, expected", [("1", "1 1"), ("bogus", "cores")])
def test_threads_per_process_from_the_environment(value, expected):
    """FIELDSOLVE_NUM_THREADS sets the default thread count and caps numba's pool; a value that
    is not a positive integer is ignored with a warning."""
    import os
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('error', RuntimeWarning)\n"
            "try:\n import fieldsolve as fs, numba\n"
            " print(fs.get_num_threads(), numba.get_num_threads())\n"
            "except RuntimeWarning as e: print('warned', e)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["FIELDSOLVE_NUM_THREADS"] = value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    if expected == "cores":
        assert out.startswith("warned") and "FIELDSOLVE_NUM_THREADS" in out
    else:
        assert out == expected


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("periodic, outside", [(True, "raise"), (False, "drop"),
                                               ((False, True, True), "drop"), ((True, False, True), "raise")])
@pytest.mark.parametrize("planes", [(0, 4), (3, 7), (8, 12)])
def test_offset_kernels_paint_and_read_a_slab_as_the_whole_grid(scheme, periodic, outside, planes,
                                                                rng, path):
    """The kernels' plane offset (a split grid's slab with ghost planes, parallel.particles):
    painting the particles whose home plane is in ``start:stop`` onto planes
    ``start - g : stop + g`` (wrapped on a periodic axis 0) gives those planes of the whole
    grid's deposit, bit for bit in input order (the slab path sums in another order), and
    reading a slab cut from a field gives the whole grid's readout bit for bit: the cells and
    weights are the serial ones. Fast (3-D CIC/TSC) and generic kernels, a grid origin and
    spacings that are not round, particles a period or far outside a periodic box, cut stencils
    on a bounded one."""
    from fieldsolve import _assign_jit as K
    from fieldsolve import assign
    from fieldsolve.kernels.windows import get_window

    grid = Grid((12, 10, 9), (1.1, 1.3, 0.8), origin=(0.1, -0.2, 0.3), periodic=periodic)
    window = get_window(scheme)
    lo_, hi_ = np.array(grid.origin), np.array(grid.origin) + np.array(grid.box)
    x = lo_ - 0.1 * (hi_ - lo_) + 1.2 * (hi_ - lo_) * rng.random((40_000, 3))
    if outside == "raise":
        x = np.where(grid.periodic, x, np.clip(x, lo_ + 2.5 * np.array(grid.spacing),
                                               hi_ - 2.5 * np.array(grid.spacing)))
    if grid.periodic[0]:
        x[:100, 0] += 7 * grid.box[0]  # far: wrapped exactly, then painted
        x[100:200, 0] -= grid.box[0]
    start, stop = planes
    params = assign._params(grid, window)
    orig, ih, shape, per, _, ndim = params
    table = np.zeros(grid.shape[0], np.int32)
    table[start:stop] = 1
    rank_of, counts = np.empty(len(x), np.int32), np.zeros(4, np.int64)
    K.home_ranks(x, orig, ih, shape, per, ndim, table, rank_of, counts)
    far = rank_of == -2
    if far.any():
        y = assign._wrap_far(grid, x, far)
        again = np.empty(far.sum(), np.int32)
        K.home_ranks(np.ascontiguousarray(y[far]), orig, ih, shape, per, ndim, table, again, counts)
        rank_of[far] = again
    mine = x[rank_of == 1]
    assert 1000 < len(mine) < len(x) // 2
    g = window.order // 2
    off, n_ext = start - g, stop - start + 2 * g
    idx = np.arange(off, off + n_ext)
    keep = slice(None) if grid.periodic[0] else slice(max(0, -off), n_ext - max(0, off + n_ext - 12))
    idx = idx % 12 if grid.periodic[0] else idx[keep]
    w = rng.random((len(mine), 2))
    whole = deposit(grid, mine, w, scheme, density=False, outside=outside)
    slab = np.zeros((2, n_ext) + grid.shape[1:])
    assign._paint(grid, mine, w, 1, params, outside, off, slab)
    assert slab.sum() == pytest.approx(whole.sum(), rel=1e-14)
    if path == "serial":
        assert slab[:, keep].tobytes() == whole[:, idx].tobytes()
    else:
        np.testing.assert_allclose(slab[:, keep], whole[:, idx], rtol=0, atol=1e-14 * whole.max())
    F = rng.standard_normal((2,) + grid.shape)
    ext = np.zeros((2, n_ext) + grid.shape[1:])
    ext[:, keep] = F[:, idx]  # zeros beyond a bounded grid, as halo.extend leaves them
    read = assign._read(grid, ext, mine, params, outside, off)
    assert read.tobytes() == interpolate(grid, F, mine, scheme, outside=outside).tobytes()
