"""How a grid is split over the ranks of a communicator.

Real space: contiguous slabs of whole planes along axis 0, slab sizes differing by at most one
with the lower ranks larger. Fourier space: the block of the real-FFT layout that the
distributed FFT (:mod:`.dfft`) leaves on each rank (:class:`GridBlock`): every plane of the
other axes and a share of the last, halved axis, split by the same rule.
1-D grids cannot be split along their one axis: they are *replicated* (every rank holds the
whole mesh, and only the particles are split). Serial use is one rank holding everything: the
same code path.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ..grid import Grid
from . import mpi

__all__ = ["Decomposition", "GridBlock", "as_decomposition", "check_split"]


def check_split(shape, ranks):
    """Raise ``ValueError`` unless a grid of ``shape`` can be split over ``ranks`` ranks: slabs of
    whole axis-0 planes, at most one rank per plane (a 1-D grid is replicated, never split)."""
    if ranks > 1 and len(shape) > 1 and shape[0] < ranks:
        raise ValueError(f"{shape[0]} planes on axis 0 cannot be split over {ranks} MPI ranks (slabs of "
                         f"whole planes); use at most {shape[0]} ranks")


class Decomposition:
    """A :class:`~fieldsolve.Grid` split over ``comm`` (None: serial)."""

    def __init__(self, grid, comm=None):
        if not isinstance(grid, Grid):
            raise ValueError(f"grid must be a fieldsolve.Grid, got {type(grid).__name__}")
        self.grid, self.comm = grid, comm
        self.size, self.rank = mpi.size(comm), mpi.rank(comm)
        n0 = grid.shape[0]
        #: the mesh is split (2-D and 3-D grids on more than one rank)
        self.split = self.size > 1 and grid.ndim > 1
        #: every rank holds the whole mesh (1-D grids on more than one rank)
        self.replicated = self.size > 1 and grid.ndim == 1
        check_split(grid.shape, self.size)
        parts = self.size if self.split else 1
        self.counts = tuple(n0 // parts + (1 if r < n0 % parts else 0) for r in range(parts))
        self.starts = tuple(int(s) for s in np.concatenate([[0], np.cumsum(self.counts)[:-1]]))
        r = self.rank if self.split else 0
        self.start, self.stop = self.starts[r], self.starts[r] + self.counts[r]

    def __repr__(self):
        kind = "split" if self.split else ("replicated" if self.replicated else "serial")
        return (f"Decomposition({self.grid!r}, rank {self.rank} of {self.size}, {kind}, "
                f"planes {self.start}:{self.stop})")

    @property
    def local_shape(self) -> tuple:
        return (self.stop - self.start,) + self.grid.shape[1:]

    @property
    def local_slice(self) -> tuple:
        """This rank's block of the global real-space array."""
        return (slice(self.start, self.stop),) + tuple(slice(None) for _ in self.grid.shape[1:])

    def owner(self, planes):
        """Rank owning each (global, already wrapped) plane index of axis 0."""
        return np.searchsorted(np.asarray(self.starts[1:]), np.asarray(planes), side="right")

    @cached_property
    def k_slices(self) -> tuple:
        """This rank's block of the global real-FFT layout (slices per axis)."""
        from .dfft import k_slices

        return k_slices(self)

    @cached_property
    def block(self) -> "GridBlock":
        """The Fourier-space block as a grid-like object for kernels' transfer functions."""
        return GridBlock(self.grid, self.k_slices)

    def gather(self, local, root=0):
        """The global array on ``root`` (None elsewhere) from every rank's slab (small grids:
        output, tests)."""
        local = np.ascontiguousarray(local)
        if not self.split:
            return local
        lead = local.shape[:local.ndim - self.grid.ndim]
        parts = self.comm.gather(local, root=root)
        if parts is None:
            return None
        return np.concatenate(parts, axis=len(lead))

    def scatter(self, full, root=0):
        """This rank's slab of ``full`` (given on ``root``; other ranks pass None)."""
        if not self.split:
            return np.ascontiguousarray(full)
        if self.rank == root:
            full = np.asarray(full)
            lead = full.ndim - self.grid.ndim
            parts = [np.ascontiguousarray(full[(slice(None),) * lead + (slice(s, s + c),)])
                     for s, c in zip(self.starts, self.counts)]
        else:
            parts = None
        return self.comm.scatter(parts, root=root)


def as_decomposition(grid) -> Decomposition:
    """``grid`` itself if it is a :class:`Decomposition`, else the serial (one-rank) decomposition
    of a :class:`~fieldsolve.Grid`: functions taking either run one code path."""
    return grid if isinstance(grid, Decomposition) else Decomposition(grid)


class GridBlock:
    """A block of a grid's real-FFT layout, for kernels: ``kvectors``, ``k2``, ``mode_numbers``
    and ``nyquist_mask`` of the block (``rfft_shape`` is the block's shape); every other
    attribute is the global grid's. Kernels computing their transfer function on a block give
    that block of the global transfer function."""

    def __init__(self, grid, slices):
        self._grid = grid
        self.slices = tuple(slices)
        self.rfft_shape = tuple(s.stop - s.start for s in self.slices)

    def __getattr__(self, name):
        return getattr(self._grid, name)

    @property
    def holds_origin(self) -> bool:
        """The block holds the ``k = 0`` mode (the field's sum), at its index 0."""
        return all(s.start == 0 for s in self.slices)

    def __repr__(self):
        return f"GridBlock({self._grid!r}, {self.slices})"

    def _check(self, rfft):
        if not rfft:
            raise ValueError("a GridBlock is a block of the real-FFT layout (rfft=True)")

    def kvectors(self, rfft: bool = True, sparse: bool = True) -> tuple:
        self._check(rfft)
        ks = self._grid.kvectors(rfft=True, sparse=True)
        out = tuple(k[(0,) * a + (s,)] .reshape([1] * a + [-1] + [1] * (k.ndim - a - 1))
                    for a, (k, s) in enumerate(zip(ks, self.slices)))
        if not sparse:
            out = tuple(np.broadcast_to(k, self.rfft_shape) for k in out)
        return out

    def k2(self, rfft: bool = True) -> np.ndarray:
        return sum(k * k for k in self.kvectors(rfft))

    def mode_numbers(self, axis: int, rfft: bool = False) -> np.ndarray:
        self._check(rfft)
        return self._grid.mode_numbers(axis, rfft=True)[self.slices[self._grid._axis(axis)]]

    def nyquist_mask(self, rfft: bool = True) -> np.ndarray:
        self._check(rfft)
        return self._grid.nyquist_mask(True)[self.slices]
