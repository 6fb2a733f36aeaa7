"""Poisson solves on a decomposed grid: :class:`DistributedPoissonSolver`, what
``PoissonSolver(decomposition, ...)`` makes. Every rank passes its slab of the source (axis-0
planes ``decomposition.local_slice``) and gets its slab of the potential, of the gradient and of
the field; settings, kernels and boundary rules are those of :class:`~fieldsolve.PoissonSolver`.
On one rank, and on a replicated 1-D mesh, it *is* the serial solver (same code, same result).

Split meshes (``P`` ranks, a local slab of ``n = N / P`` cells; ``padded = 2^f N`` cells for
``f`` free axes), what each rank holds besides its input and output slabs:

* **periodic**: the kernel's transfer function on this rank's Fourier block only (about
  ``n / 2`` reals, computed on the block: the same values as the serial layout's block), and
  during a solve the spectrum block and mpi4py-fft's work arrays (about three slabs).
* **free and mixed**: the 2N zero padding is one distributed transform of the padded grid (not
  pruned): the source planes go from the ``N``-plane slabs to the slabs of the padded grid (one
  ``Alltoallv``), are transformed, multiplied, transformed back and cropped back (one more
  ``Alltoallv``). The padded real slab and its spectrum block live in the plan's arrays (kept
  between solves): ``2^f n`` reals plus ``2^(f-1) n`` complex, i.e. 16 local fields in 3-D
  (8 + 8), plus mpi4py-fft's transposition buffer (about one more spectrum block). The kernel's
  even half (``(N_a + 1)`` per free axis) is held **whole on every rank**: the serial solver's
  array, built once per process (and shared with serial solvers of the same settings), indexed
  with mirrored indices for the local block. At large ``P`` that is the dominant term
  (``N`` reals: ``P`` local fields); distributing it is left for later.

Bitwise equal to serial: FD gradients (``fd2``/``fd4``) of a given potential (ghost planes, then
the serial stencils). Transforms differ from serial FFTW's in rounding (about 1e-16 relative).
"""
from __future__ import annotations

import numpy as np

from .. import fft
from .._compat import api
from ..grid import Grid
from ..kernels import differencing_symbols
from ..kernels.differencing import fd_derivative
from ..poisson import PoissonSolver, _check_source, _default_method, _gradient, _warn_mean
from . import dfft, halo, planes
from .collective import agreed, allmax
from .layout import Decomposition, GridBlock

__all__ = ["DistributedPoissonSolver", "gradient"]

# ghost planes of the FD stencils, and the planes a one-sided end stencil reads (offsets 0..m-1)
_GHOSTS = {"fd2": 1, "fd4": 2}
_END_PLANES = {"fd2": 3, "fd4": 5}


class DistributedPoissonSolver(PoissonSolver):
    """:class:`~fieldsolve.PoissonSolver` on a :class:`~fieldsolve.parallel.Decomposition`:
    ``solve(local_f)`` returns this rank's slab of ``phi``, ``gradient(local_phi)`` and
    ``field(local_f)`` its slab of ``(ndim, *local_shape)``. Arguments as the serial solver's
    (``pruned``/``keep_buffer`` only matter on one rank). See the module doc for memory."""

    def __init__(self, decomposition, kernel=None, *, geometry="volume", **options):
        if not isinstance(decomposition, Decomposition):
            raise ValueError("DistributedPoissonSolver needs a fieldsolve.parallel.Decomposition, "
                             f"got {type(decomposition).__name__}")
        super().__init__(decomposition.grid, kernel, geometry=geometry, **options)
        self.decomposition = d = decomposition
        self._padded = None
        if d.split and not self.grid.all_periodic:
            box = tuple(h * n for h, n in zip(self.grid.spacing, self.padded_shape))
            self._padded = Decomposition(Grid(self.padded_shape, box), d.comm)
        elif d.split and self._cache_key is not None:
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
        if self._padded is None:
            return super().transfer(dtype)
        stored, b = self._stored(dtype), self._padded.k_slices
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
        if self._padded is not None:
            return self._solve_padded_distributed(f)
        X = dfft.rfftn(d, f)
        self._check_spectrum(f, X, self.warn_mean)
        fft.multiply_real(X, self._stored(f.dtype))
        return dfft.irfftn(d, X, overwrite_input=True)

    __call__ = solve

    def _check_spectrum(self, f, X, warn_mean, block=None):
        """Agree on the ``k = 0`` coefficient (the plain sum, on one rank): non-finite anywhere
        raises on every rank; a non-negligible mean warns (``warn_mean``, periodic grids)."""
        d = self.decomposition
        x0 = complex(X.flat[0]) if (d.block if block is None else block).holds_origin else 0j
        ok = np.isfinite(x0)
        bad, mean = allmax(d, np.array([0.0 if ok else 1.0, abs(x0.real) / self.grid.size if ok else 0.0]))
        if bad:
            raise ValueError("f contains NaN or infinite values (or overflows)")
        if warn_mean and mean > 0:
            scale = allmax(d, float(np.abs(f).max()) if f.size else 0.0)
            _warn_mean(mean, scale, 1e-3 if f.dtype == np.float32 else 1e-6)

    def _solve_padded_distributed(self, f):
        """2N zero padding as one distributed transform of the padded grid (module doc)."""
        d, pd = self.decomposition, self._padded
        n0, inner = self.grid.shape[0], tuple(slice(0, n) for n in self.grid.shape[1:])
        plan = dfft.pfft(pd, f.dtype)
        buf = plan.forward.input_array  # this rank's padded real slab (the backward output too)
        src = planes.move(d.comm, f, (d.starts, d.counts), (pd.starts, pd.counts), n0)
        buf[...] = 0
        buf[(slice(0, src.shape[0]),) + inner] = src
        del src
        X = plan.forward(normalize=False)  # the plan's spectrum block, transformed in place
        self._check_spectrum(f, X, False, pd.block)
        fft.multiply_mirrored(X, self._stored(f.dtype), (pd.k_slices, pd.grid.rfft_shape))
        phi = plan.backward(normalize=True)
        mine = np.ascontiguousarray(phi[(slice(0, max(0, min(pd.stop, n0) - pd.start)),) + inner])
        return planes.move(d.comm, mine, (pd.starts, pd.counts), (d.starts, d.counts), n0)

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
            return -dfft.irfftn_each(d, X, differencing_symbols(d.block, "spectral"), 1j, f.dtype)
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
                                phi.dtype)
    out = np.empty((grid.ndim,) + phi.shape, dtype=phi.dtype)
    out[0] = _fd_axis0(d, phi, method)
    for a in range(1, grid.ndim):
        out[a] = fd_derivative(phi, a, grid.spacing[a], method, grid.periodic[a])
    return out


def _fd_axis0(d, phi, method):
    """``d phi / dx_0`` across the slabs: the slab with ghost planes from the neighbours, and
    the serial stencil on it. On a bounded axis the ranks at its ends drop the (empty) ghost
    planes beyond it, so the serial one-sided rows land on the grid's first and last planes."""
    g, h, n = _GHOSTS[method], d.grid.spacing[0], phi.shape[0]
    if not d.grid.periodic[0] and min(d.counts[0], d.counts[-1]) + g < _END_PLANES[method]:
        raise ValueError(f"gradient={method!r} on a bounded axis 0 needs at least "
                         f"{_END_PLANES[method] - g} planes on the first and last rank; got "
                         f"{min(d.counts[0], d.counts[-1])}: use fewer ranks")
    ext = halo.extend(d, phi, g, g)
    if d.grid.periodic[0]:
        return fd_derivative(ext, 0, h, method, True)[g:g + n]
    lo = 0 if d.start == 0 else g
    hi = 0 if d.stop == d.grid.shape[0] else g
    return fd_derivative(ext[g - lo:g + n + hi], 0, h, method, False)[lo:lo + n]
