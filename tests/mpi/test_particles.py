"""Distributed particles (migration, deposit, readout) against the serial functions.

Every rank builds the same global particles; rank r starts with the r-th share of a random
permutation (so particles cross several ranks in one migration), migrates, and compares its
slab with the serial deposit of all particles (max difference / max |serial|, <= 1e-13) and its
readout with the serial readout at the particles it received (bit for bit; interlaced readout
goes through the distributed FFT: <= 1e-13)."""
import numpy as np
import pytest
from conftest import allmax

import fieldsolve as fs
from fieldsolve.parallel import Decomposition
from fieldsolve.parallel import particles as pp

WINDOWS = ["ngp", "cic", "tsc", "pcs"]
TOL = 1e-13


def total(comm, value):
    from mpi4py import MPI

    return comm.allreduce(value, op=MPI.SUM)


def particles(grid, n, seed=0, piled=True):
    """(positions, weights (N, 2), ids) on every rank alike: uniform over the box and a period
    outside it on periodic axes, and (``piled``) a quarter piled on the slab faces of 1, 2 and 3
    ranks and on the periodic edge (exactly on a face, up to two ulps either side, far outside)."""
    rng = np.random.default_rng(seed)
    o, L, h = (np.array(v, float) for v in (grid.origin, grid.box, grid.spacing))
    per = np.array(grid.periodic)
    x = o + L * np.where(per, rng.random((n, grid.ndim)) * 3 - 1, rng.random((n, grid.ndim)))
    if piled:
        faces = sorted({s for p in (1, 2, 3) if p <= grid.shape[0]
                        for s in Decomposition(grid, _FakeComm(p)).starts} | {grid.shape[0]})
        q = n // 4
        plane = np.array(faces)[rng.integers(0, len(faces), q)]
        x0 = o[0] + plane * h[0]
        jitter = rng.integers(-2, 3, q)  # -2..2 ulps around the face
        x0 = x0 + jitter * np.spacing(np.abs(x0) + h[0])
        if grid.periodic[0]:
            x0[: q // 8] += 1e6 * L[0]  # far out: wrapped exactly before anything else
        x[:q, 0] = x0
    if not all(grid.periodic):  # bounded axes: stencils inside (the "drop" tests go outside)
        m = 2.5 * h
        x = np.where(per, x, np.clip(x, o + m, o + L - m))
    w = rng.random((n, 2)) + 0.5
    return x, w, np.arange(n, dtype=np.uint64)


class _FakeComm:
    """Just enough of a communicator for Decomposition's plane split (no messages)."""

    def __init__(self, size):
        self.size = size

    def Get_size(self):
        return self.size

    def Get_rank(self):
        return 0


def share(comm, d, *arrays, seed=1):
    """This rank's starting share: the rank-th chunk of a random permutation, same on all."""
    n = len(arrays[0])
    perm = np.random.default_rng(seed).permutation(n)
    mine = np.sort(perm[d.rank * n // d.size:(d.rank + 1) * n // d.size])
    return [a[mine] for a in arrays]


def migrated(comm, grid, x, w, ids):
    d = Decomposition(grid, comm)
    xs, ws, i = share(comm, d, x, w, ids)
    xm, (wm, im) = pp.migrate(d, xs, ws, i)
    return d, xm, wm, im.astype(np.int64)


GRIDS = {
    "25^3": fs.Grid((25, 25, 25), 1.0),
    "50x8x8": fs.Grid((50, 8, 8), (0.7, 1.1, 1.3), origin=(-3.3, 0.2, 0.1)),
    "bounded": fs.Grid((24, 10, 9), (1.0, 0.9, 1.2), origin=(0.3, -1.0, 2.0), periodic=False),
    "mixed": fs.Grid((23, 10, 9), 1.0, periodic=(False, True, True)),
    "mixed2": fs.Grid((22, 10, 9), 1.0, periodic=(True, False, True)),
    "2-D": fs.Grid((31, 12), (0.5, 0.25)),
    "1-D": fs.Grid(64, 0.5),
}


@pytest.mark.parametrize("name", list(GRIDS))
@pytest.mark.parametrize("window", WINDOWS)
def test_deposit_and_readout_equal_serial(comm, name, window):
    grid = GRIDS[name]
    interlaces = [False, True] if grid.all_periodic else [False]
    x, w, ids = particles(grid, 6000)
    d, xm, wm, im = migrated(comm, grid, x, w, ids)
    F = np.random.default_rng(3).standard_normal((2,) + grid.shape)
    local_F = F[(slice(None),) + d.local_slice] if d.split else F
    for interlace in interlaces:
        # scalar and vector weights; the serial reference from all particles
        ref = fs.deposit(grid, x, w, window, interlace=interlace)
        got = pp.deposit(d, xm, wm, window, interlace=interlace)
        mine = ref[(slice(None),) + d.local_slice] if d.split else ref
        assert got.shape == mine.shape
        assert allmax(comm, np.abs(got - mine).max() / np.abs(ref).max()) <= TOL
        ref1 = fs.deposit(grid, x, w[:, 0], window, interlace=interlace, density=False)
        got1 = pp.deposit(d, xm, wm[:, 0], window, interlace=interlace, density=False)
        mine1 = ref1[d.local_slice] if d.split else ref1
        assert allmax(comm, np.abs(got1 - mine1).max() / np.abs(ref1).max()) <= TOL
        # readout at the particles this rank received
        rref = fs.interpolate(grid, F, x, window, interlace=interlace)[im]
        rgot = pp.interpolate(d, local_F, xm, window, interlace=interlace)
        assert rgot.shape == rref.shape == (len(xm), 2)
        if interlace:  # fields through the distributed FFT
            assert allmax(comm, np.abs(rgot - rref).max() / np.abs(F).max() if len(xm) else 0) <= TOL
        else:
            assert allmax(comm, np.count_nonzero(rgot != rref)) == 0
            one = pp.interpolate(d, local_F[0], xm, window)
            assert allmax(comm, np.count_nonzero(one != rref[:, 0])) == 0


@pytest.mark.parametrize("window", ["cic", "pcs"])
def test_outside_drop_on_a_bounded_split_axis(comm, window):
    """Particles around and beyond the bounded faces of axis 0 reach the edge ranks (their home
    plane clipped to the grid), which drop the cut stencils as serial does."""
    grid = GRIDS["bounded"]
    rng = np.random.default_rng(5)
    o, L = np.array(grid.origin), np.array(grid.box)
    x = o - 0.1 * L + 1.2 * L * rng.random((5000, 3))
    x[:50, 0] = o[0] - 1e12  # far outside: clipped to plane 0
    w = rng.random((5000, 2))
    d, xm, wm, im = migrated(comm, grid, x, w, np.arange(5000, dtype=np.uint64))
    ref = fs.deposit(grid, x, w, window, outside="drop")
    got = pp.deposit(d, xm, wm, window, outside="drop")
    assert allmax(comm, np.abs(got - ref[(slice(None),) + d.local_slice]).max() / np.abs(ref).max()) <= TOL
    F = rng.standard_normal((2,) + grid.shape)
    rref = fs.interpolate(grid, F, x, window, outside="drop")[im]
    rgot = pp.interpolate(d, F[(slice(None),) + d.local_slice], xm, window, outside="drop")
    assert allmax(comm, np.count_nonzero(rgot != rref)) == 0
    with pytest.raises(ValueError, match="leave the bounded grid"):  # every rank, no hang
        pp.deposit(d, xm, wm, window)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_positions_and_output(comm, dtype):
    grid = GRIDS["25^3"]
    x, w, ids = particles(grid, 5000, seed=7)
    x = x.astype(dtype)
    d, xm, wm, im = migrated(comm, grid, x, w, ids)
    assert xm.dtype == dtype
    ref = fs.deposit(grid, x, w[:, 0], "tsc", dtype=np.float32)
    got = pp.deposit(d, xm, wm[:, 0], "tsc", dtype=np.float32)
    assert got.dtype == np.float32
    assert allmax(comm, np.abs(got - ref[d.local_slice]).max() / np.abs(ref).max()) <= 1e-6
    F = np.random.default_rng(3).standard_normal(grid.shape).astype(np.float32)
    rref = fs.interpolate(grid, F, x, "cic")[im]
    rgot = pp.interpolate(d, F[d.local_slice], xm, "cic")
    assert allmax(comm, np.count_nonzero(rgot != rref)) == 0


def test_migrate_moves_every_row_exactly_to_its_owner(comm):
    grid = GRIDS["50x8x8"]
    x, w, ids = particles(grid, 20000, seed=11)
    rng = np.random.default_rng(12)
    v = rng.standard_normal((len(x), 3)).astype(np.float32)
    flags = rng.integers(-128, 127, (len(x), 2, 2), dtype=np.int8)
    ids = ids * np.uint64(2**40) + np.uint64(2**63 + 12345)  # every bit of a uint64 id
    d = Decomposition(grid, comm)
    xs, ws, vs, fl, i = share(comm, d, x, w, v, flags, ids)
    xm, (wm, vm, fm, imv) = pp.migrate(d, xs, ws, vs, fl, i)
    assert (xm.dtype, vm.dtype, fm.dtype, imv.dtype) == (x.dtype, np.float32, np.int8, np.uint64)
    assert fm.shape[1:] == (2, 2) and wm.shape[1:] == (2,)
    k = ((imv - np.uint64(2**63 + 12345)) // np.uint64(2**40)).astype(np.int64)
    bad = sum(np.count_nonzero(a != b[k]) for a, b in ((xm, x), (wm, w), (vm, v), (fm, flags)))
    assert allmax(comm, bad) == 0  # every value bit for bit
    # the particles are those the serial owner computation gives this rank, each once
    want = np.flatnonzero(pp.owners(d, x) == d.rank)
    assert allmax(comm, 0 if np.array_equal(np.sort(k), want) else 1) == 0
    assert total(comm, len(xm)) == len(x)
    assert allmax(comm, np.count_nonzero(pp.owners(d, xm) != d.rank)) == 0
    # migrating again moves nothing, and keeps the order
    x2, (k2,) = pp.migrate(d, xm, k)
    assert allmax(comm, 0 if np.array_equal(k2, k) and x2.tobytes() == xm.tobytes() else 1) == 0


def test_particles_cross_several_ranks_in_one_migration(comm):
    """Rank r starts with exactly the particles of rank (r + P - 1) mod P (the farthest hop
    down, wrapping: several ranks away for P >= 3), and a few of every other rank."""
    grid = GRIDS["25^3"]
    x, w, ids = particles(grid, 9000, seed=13)
    d = Decomposition(grid, comm)
    own = pp.owners(d, x)
    start = np.flatnonzero((own == (d.rank + d.size - 1) % d.size) | (ids % 97 == d.rank))
    xm, (im,) = pp.migrate(d, x[start], ids[start])
    got_ids = np.sort(im.astype(np.int64))
    want = np.flatnonzero(own == d.rank)
    # particles given to two ranks (ids % 97) arrive twice: once from each
    dup = np.flatnonzero((own == d.rank) & (ids % 97 < d.size) & ((own + 1) % d.size != ids % 97))
    expect = np.sort(np.concatenate([want, dup])) if d.size > 1 else np.sort(start)
    assert allmax(comm, 0 if np.array_equal(got_ids, expect) else 1) == 0


def test_total_mass_is_conserved_across_exchanges(comm):
    grid = GRIDS["25^3"]
    x, w, ids = particles(grid, 20000, seed=17)
    d, xm, wm, im = migrated(comm, grid, x, w, ids)
    for window in WINDOWS:
        for interlace in (False, True):
            rho = pp.deposit(d, xm, wm[:, 0], window, interlace=interlace, density=False)
            assert abs(total(comm, rho.sum()) - w[:, 0].sum()) <= 1e-12 * w[:, 0].sum()
    assert abs(total(comm, wm[:, 0].sum()) - w[:, 0].sum()) <= 1e-12 * w[:, 0].sum()


@pytest.mark.parametrize("interlace", [False, True])
def test_readout_is_the_adjoint_of_deposit(comm, interlace):
    grid = GRIDS["50x8x8"]
    x, w, ids = particles(grid, 8000, seed=19)
    d, xm, wm, im = migrated(comm, grid, x, w, ids)
    F = np.random.default_rng(2).standard_normal((2,) + grid.shape)[(slice(None),) + d.local_slice]
    lhs = total(comm, float(np.sum(pp.interpolate(d, F, xm, "tsc", interlace=interlace) * wm)))
    rhs = total(comm, float(np.sum(F * pp.deposit(d, xm, wm, "tsc", interlace=interlace,
                                                  density=False))))
    assert abs(lhs - rhs) <= 1e-12 * abs(rhs)


def test_ranks_without_particles(comm):
    """All particles in the first planes: the other ranks deposit and read nothing."""
    grid = GRIDS["50x8x8"]
    rng = np.random.default_rng(23)
    x = np.array(grid.origin) + rng.random((3000, 3)) * np.array(grid.box) * [0.1, 1, 1]
    w = rng.random(3000)
    d, xm, wm, im = migrated(comm, grid, x, w, np.arange(3000, dtype=np.uint64))
    assert allmax(comm, len(xm) if d.rank > 0 else 0) == 0
    got = pp.deposit(d, xm, wm, "pcs", interlace=True)
    ref = fs.deposit(grid, x, w, "pcs", interlace=True)
    assert allmax(comm, np.abs(got - ref[d.local_slice]).max() / np.abs(ref).max()) <= TOL
    assert pp.interpolate(d, got, xm, "pcs").shape == (len(xm),)


def test_wrong_rank_particles_are_refused_on_every_rank(comm):
    grid = GRIDS["25^3"]
    d = Decomposition(grid, comm)
    x = np.array([[0.99, 0.3, 0.3]]) if d.rank == 0 else np.empty((0, 3))  # last plane: last rank
    F = np.zeros(d.local_shape)
    if d.size == 1:  # one rank owns everything
        assert pp.deposit(d, x, window="cic", density=False).sum() == pytest.approx(1.0)
        return
    for call in (lambda: pp.deposit(d, x), lambda: pp.interpolate(d, F, x)):
        match = "belong to other ranks.*migrate" if d.rank == 0 else "rank 0 failed"
        with pytest.raises(ValueError, match=match):
            call()
    bad = np.array([[np.nan, 1.0, 1.0]]) if d.rank == d.size - 1 else np.empty((0, 3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        pp.migrate(d, bad)


def test_too_many_ranks_for_the_stencil(comm):
    grid = fs.Grid((4, 6, 6), 1.0)
    d = Decomposition(grid, comm)
    if d.size == 1:
        return
    with pytest.raises(ValueError, match="ghost planes"):  # PCS: 2 + 2 ghost planes
        pp.deposit(d, np.empty((0, 3)), window="pcs")


def test_one_rank_communicator_is_the_serial_function(comm):
    """A communicator of one rank (here each rank's own) gives serial's bits exactly."""
    grid = GRIDS["25^3"]
    x, w, ids = particles(grid, 4000, seed=29)
    solo = comm.Split(comm.Get_rank(), 0)
    try:
        d = Decomposition(grid, solo)
        xm, (wm,) = pp.migrate(d, x, w)
        same = 0
        for interlace in (False, True):
            a = pp.deposit(d, xm, wm, "tsc", interlace=interlace)
            same += a.tobytes() != fs.deposit(grid, x, w, "tsc", interlace=interlace).tobytes()
            r = pp.interpolate(d, a, xm, "tsc", interlace=interlace)
            same += r.tobytes() != fs.interpolate(grid, a, x, "tsc", interlace=interlace).tobytes()
    finally:
        solo.Free()
    assert allmax(comm, same) == 0


@pytest.mark.parametrize("window", WINDOWS)
def test_parallel_kernel_paths_on_slabs(comm, window, monkeypatch):
    """The slab-sorted (threaded) paint and the slab-sorted readout, which larger problems
    take, on each rank's extended slab: the same results."""
    from fieldsolve import assign

    monkeypatch.setattr(assign, "_PARALLEL_WORK", 0)
    monkeypatch.setattr(assign, "_READ_SORT_ABOVE", 0)
    grid = GRIDS["50x8x8"]
    x, w, ids = particles(grid, 6000, seed=31)
    d, xm, wm, im = migrated(comm, grid, x, w, ids)
    ref = fs.deposit(grid, x, w, window, interlace=True)
    got = pp.deposit(d, xm, wm, window, interlace=True)
    assert allmax(comm, np.abs(got - ref[(slice(None),) + d.local_slice]).max() / np.abs(ref).max()) <= TOL
    F = np.random.default_rng(3).standard_normal((2,) + grid.shape)
    rref = fs.interpolate(grid, F, x, window)[im]
    rgot = pp.interpolate(d, F[(slice(None),) + d.local_slice], xm, window)
    assert allmax(comm, np.count_nonzero(rgot != rref)) == 0
