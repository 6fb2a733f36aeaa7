"""Decomposition and distributed FFT against the serial transforms."""
import numpy as np
import pytest
from conftest import allmax

import fieldsolve as fs
from fieldsolve.parallel import Decomposition, dfft

SHAPES = [(8, 6, 10), (7, 5, 6), (12, 9), (16,), (64, 4, 4)]


@pytest.mark.parametrize("shape", SHAPES)
def test_slabs_cover_the_grid(comm, shape):
    d = Decomposition(fs.Grid(shape, 1.0), comm)
    if d.split:
        assert sum(d.counts) == shape[0] and max(d.counts) - min(d.counts) <= 1
        assert list(d.counts) == sorted(d.counts, reverse=True)
        planes = np.arange(shape[0])
        owner = d.owner(planes)
        assert np.array_equal(np.bincount(owner, minlength=d.size), d.counts)
    else:
        assert d.local_shape == shape


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_distributed_rfftn_equals_serial(comm, shape, dtype):
    g = fs.Grid(shape, 1.0)
    d = Decomposition(g, comm)
    full = np.random.default_rng(0).standard_normal((2,) + shape).astype(dtype)  # same on every rank
    local = full[(slice(None),) + d.local_slice]
    X = dfft.rfftn(d, local)
    ref = fs.fft.rfftn(full, axes=tuple(range(1, g.ndim + 1)))[(slice(None),) + d.k_slices]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert allmax(comm, np.abs(X - ref).max() / np.abs(ref).max()) < tol
    back = dfft.irfftn(d, X)
    assert back.dtype == dtype
    assert allmax(comm, np.abs(back - local).max()) < tol * 10


def test_block_kvectors_are_the_global_ones(comm):
    g = fs.Grid((8, 6, 10), (1.0, 2.0, 0.5))
    d = Decomposition(g, comm)
    b = d.block
    for a in range(3):
        k = np.broadcast_to(g.kvectors()[a], g.rfft_shape)[d.k_slices]
        assert np.array_equal(np.broadcast_to(b.kvectors()[a], b.rfft_shape), k)
    assert np.array_equal(b.nyquist_mask(), g.nyquist_mask()[d.k_slices])


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("lo, hi", [(1, 1), (2, 2), (1, 2), (0, 1)])
def test_halo_extend_and_reduce(comm, periodic, lo, hi):
    from fieldsolve.parallel import halo
    g = fs.Grid((9, 4, 3), 1.0, periodic=periodic)
    d = Decomposition(g, comm)
    full = np.random.default_rng(1).standard_normal((2,) + g.shape)
    n0 = g.shape[0]
    ext = halo.extend(d, full[(slice(None),) + d.local_slice], lo, hi)
    idx = np.arange(d.start - lo, d.stop + hi)
    expect = full[:, idx % n0] if periodic else np.where(((idx >= 0) & (idx < n0))[None, :, None, None],
                                                         full[:, np.clip(idx, 0, n0 - 1)], 0.0)
    assert allmax(comm, np.abs(ext - expect).max()) == 0
    # reduce is the adjoint of extend: <reduce(E), F> = <E, extend(F)>
    E = np.random.default_rng(2 + d.rank).standard_normal(ext.shape)
    F = full[(slice(None),) + d.local_slice]
    lhs = np.sum(halo.reduce(d, E, lo, hi) * F)
    rhs = np.sum(E * ext)
    tot = comm.allreduce(lhs) if comm is not None else lhs
    rot = comm.allreduce(rhs) if comm is not None else rhs
    assert abs(tot - rot) < 1e-12 * abs(rot)
