"""Poisson solves on a decomposed grid: :class:`DistributedPoissonSolver`, what
``PoissonSolver(decomposition, ...)`` makes. Every rank passes its slab of the source (axis-0
planes ``decomposition.local_slice``) and gets its slab of the potential, of the gradient and of
the field; settings, kernels and boundary rules are those of :class:`~fieldsolve.PoissonSolver`.
On one rank, and on a replicated 1-D mesh, it *is* the serial solver (same code, same result).

What each rank holds on a split mesh, in local fields ``F`` (this rank's real slab of ``n0_r``
planes, the size of ``f``), besides its input and output:

* **periodic**: the kernel's transfer function on this rank's Fourier block only (``F/2``,
  computed on the block: the serial layout's block), nothing else between solves
  (:mod:`fieldsolve.parallel.dfft` keeps only its transposes' MPI datatypes); during a solve
  the spectrum block, one complex slab of the transform and the result (about ``3 F``).
* **free and mixed**: the serial solver's pruned 2N zero padding (same transforms, same order)
  with one global transpose after the first one. ``A``, this rank's planes after the r2c along
  the (padded) last axis (``2 F`` in 3-D all free), is transposed (``Alltoallw``) into the
  corner of ``B``, every padded plane of axis 0 and of the middle axis for this rank's share of
  the halved last axis (``8 F``); ``B`` is zero-extended and transformed axis by axis,
  multiplied, transformed back and its first ``N`` planes transposed back into ``A``. ``A`` and
  ``B`` are kept between solves (``keep_buffer=True``, the default): ``10 F`` in 3-D (``6 F``
  in 2-D, less with periodic axes), where serial keeps one padded complex array (``8 P F``
  for ``P`` ranks' planes). The kernel's even half (``(N_a + 1)`` per free axis: about ``P F``)
  is held **whole on every rank**: the serial solver's array, built once per process (shared
  with serial solvers of the same settings) and indexed with mirrored indices for the local
  block; at large ``P`` it is the largest term (distributing it is left for later). Measured at
  64^3 all free: 12.4 MiB per rank on 2 ranks, 9.1 on 3, serial 18.4 (each with the 2.1 MiB
  even half).

Bitwise equal to serial: FD gradients (``fd2``/``fd4``) of a given potential (ghost planes, then
the serial stencils), and, as measured here, the free and mixed solves (the serial transforms on
the same lines; FFTW could round differently for other strides). Periodic solves go through
the slab transforms of :mod:`.dfft` (the local axes, a transpose, then axis 0), which round
differently from serial's one transform of every axis (about 1e-16 relative).
"""
from __future__ import annotations

import numpy as np

from .. import fft
from .._compat import api
from ..grid import Grid
from ..kernels import differencing_symbols
from ..kernels.differencing import fd_derivative
from ..poisson import (PoissonSolver, _check_source, _default_method, _empty_aligned, _gradient,
                       _pruned_c2c, _warn_mean)
from . import dfft, halo
from .collective import agreed, allmax
from .layout import Decomposition, GridBlock
from .transpose import Transpose, split

__all__ = ["DistributedPoissonSolver", "gradient", "check_gradient"]

# ghost planes of the FD stencils, and the planes a one-sided end stencil reads (offsets 0..m-1)
_GHOSTS = {"fd2": 1, "fd4": 2}
_END_PLANES = {"fd2": 3, "fd4": 5}


class DistributedPoissonSolver(PoissonSolver):
    """:class:`~fieldsolve.PoissonSolver` on a :class:`~fieldsolve.parallel.Decomposition`:
    ``solve(local_f)`` returns this rank's slab of ``phi``, ``gradient(local_phi)`` and
    ``field(local_f)`` its slab of ``(ndim, *local_shape)``. Arguments as the serial solver's
    (a split mesh is always solved pruned: ``pruned=False`` only matters on one rank). See the
    module doc for memory."""

    def __init__(self, decomposition, kernel=None, *, geometry="volume", **options):
        if not isinstance(decomposition, Decomposition):
            raise ValueError("DistributedPoissonSolver needs a fieldsolve.parallel.Decomposition, "
                             f"got {type(decomposition).__name__}")
        super().__init__(decomposition.grid, kernel, geometry=geometry, **options)
        self.decomposition = d = decomposition
        self._free = d.split and not self.grid.all_periodic
        # the halved last axis of the padded spectrum, split over the ranks (free and mixed)
        r = d.rank if d.split else 0
        self._cols = split(self.padded_shape[-1] // 2 + 1, d.size if d.split else 1)
        q0, qn = self._cols[0][r], self._cols[1][r]
        #: this rank's block of the rfft layout of the padded grid (periodic: of the grid)
        self.k_slices = d.k_slices if self.grid.all_periodic else \
            tuple(slice(0, n) for n in self.padded_shape[:-1]) + (slice(q0, q0 + qn),)
        self._transposes = {}
        if d.split and self.grid.all_periodic and self._cache_key is not None:
            # the transfer function kept is this rank's block: never shared with other layouts
            self._cache_key += (tuple((s.start, s.stop) for s in d.k_slices),)

    def __repr__(self):
        return "Distributed" + super().__repr__() + f" on {self.decomposition!r}"

    # -- transfer functions ------------------------------------------------------------------
    def _build_spectrum(self):
        d = self.decomposition
        if not (d.split and self.grid.all_periodic):
            return super()._build_spectrum()  # the even half, whole, on every rank
        b = d.block
        spec = np.broadcast_to(self.kernel.transfer(b), b.rfft_shape)
        if self.transfer_factor is not None:
            g = self.grid
            padded = GridBlock(Grid(self.padded_shape, tuple(h * n for h, n in zip(g.spacing, self.padded_shape))),
                               b.slices)
            spec = spec * np.broadcast_to(np.asarray(self.transfer_factor(padded), dtype=np.float64),
                                          b.rfft_shape)
        return np.ascontiguousarray(spec, dtype=np.float64)

    def transfer(self, dtype=np.float64):
        """This rank's block of :meth:`PoissonSolver.transfer` (of the padded grid's layout on
        free and mixed grids: expanded from the even half on request, not cached)."""
        if not self._free:
            return super().transfer(dtype)
        stored, b = self._stored(dtype), self.k_slices
        idx = [np.minimum(np.arange(s.start, s.stop), n - np.arange(s.start, s.stop))
               for s, n in zip(b[:-1], self.padded_shape[:-1])]
        return stored[np.ix_(*idx, np.arange(b[-1].start, b[-1].stop))]

    # -- solve -----------------------------------------------------------------------------
    def solve(self, f):
        """This rank's slab of ``phi`` for its slab ``f`` of the source (``lap(phi) = f``)."""
        d = self.decomposition
        if not d.split:
            return super().solve(f)
        f = agreed(d, _check_source, self.grid, f, check_finite=False, shape=d.local_shape)
        if self._free:
            return self._solve_free(f)
        X = dfft.rfftn(d, f)
        self._check_spectrum(f, X, self.warn_mean)
        fft.multiply_real(X, self._stored(f.dtype))
        return dfft.irfftn(d, X, overwrite_input=True)

    __call__ = solve

    def _check_spectrum(self, f, X, warn_mean):
        """Agree on the ``k = 0`` coefficient (the plain sum, on one rank): non-finite anywhere
        raises on every rank; a non-negligible mean warns (``warn_mean``, periodic grids)."""
        d = self.decomposition
        x0 = complex(X.flat[0]) if all(s.start == 0 for s in self.k_slices) else 0j
        ok = np.isfinite(x0)
        bad, mean = allmax(d, np.array([0.0 if ok else 1.0, abs(x0.real) / self.grid.size if ok else 0.0]))
        if bad:
            raise ValueError("f contains NaN or infinite values (or overflows)")
        if warn_mean and mean > 0:
            scale = allmax(d, float(np.abs(f).max()) if f.size else 0.0)
            _warn_mean(mean, scale, 1e-3 if f.dtype == np.float32 else 1e-6)

    def _solve_free(self, f):
        """The serial pruned solve with a global transpose after its first transform (module doc)."""
        d, g, n, P = self.decomposition, self.grid, self.grid.shape, self.padded_shape
        last = g.ndim - 1
        cdt = np.result_type(f.dtype, np.complex64)
        try:
            A, B = self._buffers.pop()
        except IndexError:
            A = B = None
        if A is None or A.dtype != cdt:
            A = _empty_aligned(d.local_shape[:-1] + (P[last] // 2 + 1,), cdt)
            B = _empty_aligned(P[:last] + (self._cols[1][d.rank],), cdt)
        T = self._transposes.get(cdt)
        if T is None:
            T = self._transposes[cdt] = Transpose(d.comm, cdt, A.shape, B.shape, (d.starts, d.counts), self._cols)
        Av = A.view(f.dtype)  # (..., 2 (P_last // 2 + 1)) reals: FFTW's in-place r2c layout
        Av[..., :n[last]] = f
        Av[..., n[last]:] = 0
        fft.execute("r2c", Av[..., :P[last]], A, last)
        T.forward(A, B)  # B[:N0, :N1] = this rank's columns of every plane
        region, order = [slice(0, m) for m in n[:last]], self._c2c_order()
        if B.size:  # fewer columns than ranks leaves a rank without any
            _pruned_c2c(B, region, order, n, P, True)
        self._check_spectrum(f, B, False)
        fft.multiply_mirrored(B, self._stored(f.dtype), (self.k_slices, P[:last] + (P[last] // 2 + 1,)))
        if B.size:
            _pruned_c2c(B, region, order, n, P, False)
        T.backward(B, A)
        fft.execute("c2r", A, Av[..., :P[last]], last)
        phi = np.empty(d.local_shape, f.dtype)
        np.multiply(Av[..., :n[last]], f.dtype.type(1.0 / np.prod(P)), out=phi)
        if self.keep_buffer and not self._buffers:
            self._buffers.append((A, B))
        return phi

    # -- derivatives -------------------------------------------------------------------------
    @api(renamed={"method": "gradient"})
    def gradient(self, phi, gradient=None):
        """This rank's slab of ``grad(phi)``, ``(ndim, *local_shape)``: :func:`gradient`."""
        return _slab_gradient(self.decomposition, phi, gradient)

    @api(renamed={"method": "gradient"})
    def field(self, f, gradient=None):
        """This rank's slab of ``-grad(phi)`` for its slab ``f`` of the source."""
        d = self.decomposition
        if not d.split:
            return super().field(f, gradient)
        method = _default_method(self.grid, gradient)
        if self.grid.all_periodic and method == "spectral":
            f = agreed(d, _check_source, self.grid, f, check_finite=False, shape=d.local_shape)
            X = dfft.rfftn(d, f)
            self._check_spectrum(f, X, self.warn_mean)
            X *= self.transfer(f.dtype)
            return -dfft.irfftn_each(d, X, differencing_symbols(d.block, "spectral"), 1j, f.dtype,
                                     overwrite_input=True)
        return -self.gradient(self.solve(f), method)


def gradient(decomposition, phi, gradient=None):
    """This rank's slab of ``grad(phi)`` (``(ndim, *local_shape)``) from its slab of ``phi``:
    :func:`fieldsolve.poisson.gradient` on a decomposed grid. ``"spectral"`` by distributed
    transforms; ``"fd2"``/``"fd4"`` with 1/2 ghost planes along the split axis 0 and the serial
    stencils (one-sided at the ends of a bounded axis 0), bitwise equal to serial. A bounded
    axis 0 needs at least 2 (fd2) / 3 (fd4) planes on its first and last rank."""
    return _slab_gradient(decomposition, phi, gradient)


def _slab_gradient(d, phi, gradient):
    grid = d.grid
    if not d.split:
        return _gradient(grid, phi, gradient)
    method = _default_method(grid, gradient)
    phi = agreed(d, _check_source, grid, phi, "phi", shape=d.local_shape)
    if method == "spectral":
        return dfft.irfftn_each(d, dfft.rfftn(d, phi), differencing_symbols(d.block, "spectral"), 1j,
                                phi.dtype, overwrite_input=True)
    out = np.empty((grid.ndim,) + phi.shape, dtype=phi.dtype)
    out[0] = _fd_axis0(d, phi, method)
    for a in range(1, grid.ndim):
        out[a] = fd_derivative(phi, a, grid.spacing[a], method, grid.periodic[a])
    return out


def check_gradient(d, method):
    """Raise ``ValueError`` (on every rank alike) unless ``method`` (``"spectral"``, ``"fd2"``,
    ``"fd4"``) can differentiate along axis 0 of ``d``: a bounded, split axis 0 needs 2 (fd2) /
    3 (fd4) planes on its first and last rank, the serial one-sided stencils' width."""
    if d.split and method in _GHOSTS and not d.grid.periodic[0]:
        need, got = _END_PLANES[method] - _GHOSTS[method], min(d.counts[0], d.counts[-1])
        if got < need:
            raise ValueError(f"gradient={method!r} on a bounded axis 0 needs at least {need} planes on the "
                             f"first and last rank; got {got}: use fewer ranks")


def _fd_axis0(d, phi, method):
    """``d phi / dx_0`` across the slabs: the slab with ghost planes from the neighbours, and
    the serial stencil on it. On a bounded axis the ranks at its ends drop the (empty) ghost
    planes beyond it, so the serial one-sided rows land on the grid's first and last planes."""
    check_gradient(d, method)
    g, h, n = _GHOSTS[method], d.grid.spacing[0], phi.shape[0]
    ext = halo.extend(d, phi, g, g)
    if d.grid.periodic[0]:
        return fd_derivative(ext, 0, h, method, True)[g:g + n]
    lo = 0 if d.start == 0 else g
    hi = 0 if d.stop == d.grid.shape[0] else g
    return fd_derivative(ext[g - lo:g + n + hi], 0, h, method, False)[lo:lo + n]
