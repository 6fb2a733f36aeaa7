"""Poisson's equation ``lap(phi) = f`` by FFT convolution with a Green's function.

Sign convention: ``lap(phi) = f``. Gravity: ``f = 4 pi G rho`` (a point mass gives
``phi = -G M / r``); electrostatics: ``f = -rho / eps0``. Units: ``phi`` has the units of
``f`` times length^2 (lengths in the grid's unit).

Boundary conditions come from ``grid.periodic``, axis by axis:

* **all periodic** -- ``phi_hat = G_hat(k) f_hat(k)`` with a periodic symbol (``"spectral"``
  -1/k^2 by default). The ``k = 0`` mode is dropped: the result is the zero-mean potential of
  ``f - mean(f)`` (a neutralising background / Jeans swindle). A warning is issued when the
  source mean is not negligible (``warn_mean=False`` silences it).
* **all free** (isolated) -- Hockney-Eastwood zero padding: ``f`` is padded to ``2N`` per axis,
  convolved with the kernel whose origin sits at index 0 (negative lags wrapped), and the
  first ``N`` cells are kept. No images: ``phi`` decays like the Green's function.
* **mixed** (e.g. periodic x, y + free z) -- spectral on the periodic axes; per transverse
  mode a 1D (``-exp(-k|z|)/(2k)``) or 2D (``-K0(k r)/(2 pi)``) free-space kernel on the free
  axes, padded to ``2N``. Only the point kernels ``"zeta"`` (4th order) and ``"chat2"``.

The free-space kernel spectrum is real (even kernel); it is computed once per solver and dtype
and kept as a real array (half the memory of the complex layout), shared in memory between solvers
of the same grid, kernel and options, and optionally on disk (:func:`set_kernel_cache`).
"""
from __future__ import annotations

import importlib.metadata
import warnings
from collections import OrderedDict

import numpy as np

from . import fft
from ._compat import api
from .kernels import (GRADIENTS, Kernel, PeriodicKernel, differencing_symbols, get_kernel,
                      pad_kernel, padded_transfer)
from .kernels.differencing import fd_derivative
from .grid import Grid
from .kernels import cache as _cache
from .kernels.cache import kernel_cache_path, set_kernel_cache  # noqa: F401 - public here too
from .parallel import dfft
from .parallel.layout import Decomposition, as_decomposition

__all__ = ["PoissonSolver", "gradient", "set_kernel_cache", "kernel_cache_path"]

_GEOMETRIES = ("volume", "thin_disc")
_SOLVER_OPTIONS = ("padding", "pruned", "warn_mean", "keep_buffer", "transfer_factor")
# kernel spectra shared between solvers built with the same grid, kernel name and options
# (PM loops and parameter scans rebuild solvers; LGF/VGF set-up costs seconds at N = 128)
_SPECTRUM_CACHE: OrderedDict = OrderedDict()
_SPECTRUM_CACHE_SIZE = 6
_SPECTRUM_CACHE_BYTES = 1 << 30
def _empty_aligned(shape, dtype):
    if fft.get_backend() == "pyfftw":
        import pyfftw

        return pyfftw.empty_aligned(shape, dtype)
    return np.empty(shape, dtype)


def _zeros(shape, dtype):
    """Zero array aligned for SIMD FFTs (pyFFTW copies misaligned inputs: time and memory)."""
    if fft.get_backend() == "pyfftw":
        import pyfftw

        return pyfftw.zeros_aligned(shape, dtype)
    return np.zeros(shape, dtype)


def _check_source(grid, f, name="f", check_finite=True, shape=None):
    """``f`` as float32/float64 of ``shape`` (default the grid's; a rank's slab when distributed)."""
    f, shape = np.asarray(f), grid.shape if shape is None else shape
    if f.shape != shape:
        raise ValueError(f"{name} has shape {f.shape}; the grid has shape {shape}")
    if np.iscomplexobj(f) or not (np.issubdtype(f.dtype, np.floating)
                                  or np.issubdtype(f.dtype, np.integer)
                                  or f.dtype == np.bool_):
        raise ValueError(f"{name} must be real (float32 or float64), got dtype {f.dtype}")
    if f.dtype not in (np.float32, np.float64):
        f = f.astype(np.float64)
    if check_finite and not np.isfinite(f).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return f


def _check_sum(X):
    """Non-finite values anywhere make the k = 0 coefficient (the plain sum) non-finite: a free
    check after the forward transform instead of an extra pass over the source."""
    if not np.isfinite(X.flat[0]):
        raise ValueError("f contains NaN or infinite values (or overflows)")


def _warn_mean(mean, scale, tol):
    """The warning of a periodic solve whose source mean is not negligible (``solve``'s caller)."""
    if mean > tol * scale:
        warnings.warn(f"periodic solve drops the k=0 mode: the source mean {mean:.3g} is not "
                      f"negligible (max |f| = {scale:.3g}); the result is the potential of "
                      "f - mean(f). Subtract the mean (or pass warn_mean=False) to silence.",
                      RuntimeWarning, stacklevel=4)


class PoissonSolver:
    """Solve ``lap(phi) = f`` on ``grid`` by FFT convolution with a Green's function.

    Parameters
    ----------
    grid : Grid
        1D, 2D or 3D. ``grid.periodic`` selects periodic (spectral) or free-space (isolated)
        boundaries per axis. A :class:`fieldsolve.parallel.Decomposition` makes the
        distributed solver (:mod:`fieldsolve.parallel.poisson`: slabs in, slabs out).
    kernel : str or Kernel, optional
        Periodic grids: ``"spectral"`` (default, -1/k^2), ``"fd2"``, ``"fd4"``,
        ``"mehrstellen4"``, ``"optimal"`` (options ``window=``, ``split=``,
        ``gradient=``, ``interlace=``, ``alias=``). Every periodic kernel accepts ``split=r_s``
        (Gaussian long-range filter ``exp(-k^2 r_s^2)``).
        Free space: ``"zeta"`` (default, 4th order), ``"chat2"``, ``"igf"``, ``"lgf"``,
        ``"hej2"`` ... ``"hej10"`` (option ``alpha=2``), ``"hej0"``, ``"vgf"`` (option ``L=``).
        Mixed periodic/free grids: ``"zeta"`` (default) or ``"chat2"``.
    geometry : ``"volume"`` (default) or ``"thin_disc"``
        ``"thin_disc"`` on a free 2D grid: in-plane potential of a razor-thin sheet,
        ``phi(x) = -(1/4 pi) int f(x') / |x - x'| d^2x'`` (``f = 4 pi G Sigma`` gives
        ``-G int Sigma / |x - x'|``). Kernels ``zeta`` (3rd order), ``chat2``, ``igf``, ``vgf``.
    padding : ``"2n"`` (default) or ``"2n-1"`` (minimal), free axes only.
    pruned : bool, default True
        Free space: transform one axis at a time and pad only the axis being transformed
        (never transforms lines of zeros, keeps only the N output planes on the way back).
    warn_mean : bool, default True
        Periodic grids: warn if the source mean (dropped k = 0 mode) is not negligible.
    keep_buffer : bool, default True
        Pruned free-space solves: keep the padded work buffer (one padded complex array)
        between calls. Re-allocating it costs page faults on first touch (about 15% of a
        solve at N = 128); ``False`` frees it after every solve. Concurrent solves from
        several threads each get their own buffer.
    transfer_factor : callable, optional
        ``transfer_factor(padded_grid)`` returns a real transfer function (broadcastable to the rfft
        layout of a periodic grid of ``padded_shape`` cells of the same spacing) that is
        multiplied into the kernel spectrum once, e.g. ``1 / W(k)^2`` to deconvolve an
        assignment window (:class:`fieldsolve.pm.ParticleMesh` does that).

    Attributes
    ----------
    kernel : Kernel object, ``order`` : its order of accuracy (``inf`` for spectral),
    padded_shape : shape of the padded transform grid (``grid.shape`` when periodic).
    """

    def __new__(cls, grid=None, *args, **kwargs):
        if cls is PoissonSolver and isinstance(grid, Decomposition):
            from .parallel.poisson import DistributedPoissonSolver as cls
        return super().__new__(cls)

    def __init__(self, grid, kernel=None, *, geometry="volume", **options):
        if not isinstance(grid, Grid):
            raise ValueError(f"grid must be a fieldsolve.Grid, got {type(grid).__name__}")
        if geometry not in _GEOMETRIES:
            raise ValueError(f"geometry={geometry!r}; choose one of {_GEOMETRIES}")
        self.grid = grid
        self.geometry = geometry
        solver_opts = {k: options.pop(k) for k in list(options) if k in _SOLVER_OPTIONS}
        if kernel is None:
            kernel = "spectral" if grid.all_periodic else "zeta"
        if isinstance(kernel, Kernel) and options:
            raise ValueError(f"options {sorted(options)} cannot be combined with a kernel object")
        self.kernel = get_kernel(kernel, **options)
        self.kernel.check(grid, geometry)
        self.free_axes = tuple(a for a in range(grid.ndim) if not grid.periodic[a])
        self.periodic_axes = tuple(a for a in range(grid.ndim) if grid.periodic[a])
        padding = solver_opts.get("padding", "2n")
        if padding not in ("2n", "2n-1"):
            raise ValueError(f"padding={padding!r}; choose '2n' or '2n-1'")
        self.padding = padding
        self.pruned = bool(solver_opts.get("pruned", True))
        self.warn_mean = bool(solver_opts.get("warn_mean", True))
        self.keep_buffer = bool(solver_opts.get("keep_buffer", True))
        self.transfer_factor = solver_opts.get("transfer_factor")
        if self.transfer_factor is not None and not callable(self.transfer_factor):
            raise ValueError("transfer_factor must be a callable transfer_factor(padded_grid) -> array")
        self._buffers = []  # at most one idle work buffer (list pop/append: thread-safe)
        extra = 0 if padding == "2n" else 1
        self.padded_shape = tuple(2 * n - extra if a in self.free_axes else n
                                  for a, n in enumerate(grid.shape))
        self._spec = {}
        self._cache_key = None
        if isinstance(kernel, str) and self.transfer_factor is None:
            try:
                opts = tuple(sorted((k, repr(v)) for k, v in options.items()))
                self._cache_key = (grid, geometry, self.padded_shape, kernel.lower(), opts)
                hash(self._cache_key)
            except TypeError:
                self._cache_key = None

    # -- description ------------------------------------------------------------------------
    @property
    def order(self):
        k = self.kernel
        return k.order_for(self.geometry) if hasattr(k, "order_for") else k.order

    @property
    def kernel_name(self):
        return self.kernel.name

    def __repr__(self):
        return (f"PoissonSolver({self.grid!r}, kernel={self.kernel!r}, "
                f"geometry={self.geometry!r})")

    # -- kernel spectrum (cached) -------------------------------------------------------------
    def spectrum(self, dtype=np.float64):
        """Older name of :meth:`transfer` (deprecated)."""
        warnings.warn("PoissonSolver.spectrum() is now PoissonSolver.transfer()", DeprecationWarning,
                      stacklevel=2)
        return self.transfer(dtype)

    def transfer(self, dtype=np.float64):
        """Real transfer function of the kernel on the rfft layout of :attr:`padded_shape`
        (free and mixed grids keep only its even half, :func:`fieldsolve.fft.mirrored_shape`,
        and expand it here on request).

        Computed once (in float64) and cached per dtype, in memory and, when
        :func:`set_kernel_cache` is on, on disk. For periodic kernels this is ``G_hat(k)`` with
        ``G_hat(0) = 0``."""
        stored = self._stored(dtype)
        if self.grid.all_periodic:
            return stored
        key = ("full", np.dtype(dtype))
        full = self._spec.get(key)
        if full is None:
            full = np.empty(self._full_shape(), stored.dtype)
            idx = [np.minimum(np.arange(n), n - np.arange(n)) for n in self.padded_shape[:-1]]
            full[...] = stored[np.ix_(*idx, np.arange(stored.shape[-1]))]
            full.setflags(write=False)
            self._spec[key] = full
        return full

    def prepare(self, dtype=np.float64):
        """Build (or fetch from the caches) the transfer function a solve of ``dtype`` uses,
        now rather than in the first :meth:`solve`; returns the solver."""
        self._stored(dtype)
        return self

    def _stored(self, dtype=np.float64):
        """The transfer function as kept: the full rfft layout on periodic grids, the even half
        (:func:`fieldsolve.fft.mirrored_shape`) on free and mixed ones; cached per dtype."""
        dtype = np.dtype(dtype)
        spec = self._spec.get(dtype)
        if spec is None:
            base = self._spec.get(np.dtype(np.float64))
            if base is None and self._cache_key is not None:
                base = _SPECTRUM_CACHE.get(self._cache_key)
            if base is None:
                disk = self._disk_key()
                base = None if disk is None else _cache.load(disk, self._spectrum_shape())
                if base is None:
                    base = self._build_spectrum()
                    if disk is not None:
                        _cache.save(disk, base)
                base.setflags(write=False)
                if self._cache_key is not None:
                    _SPECTRUM_CACHE[self._cache_key] = base
                    # bounded by count and by memory (always keeps the newest entry)
                    while len(_SPECTRUM_CACHE) > 1 and (
                            len(_SPECTRUM_CACHE) > _SPECTRUM_CACHE_SIZE
                            or sum(v.nbytes for v in _SPECTRUM_CACHE.values()) > _SPECTRUM_CACHE_BYTES):
                        _SPECTRUM_CACHE.popitem(last=False)
            self._spec[np.dtype(np.float64)] = base
            spec = base
            if dtype != np.float64:
                spec = base.astype(dtype)
                spec.setflags(write=False)
                self._spec[dtype] = spec
        return spec

    def _full_shape(self):
        shape = list(self.padded_shape)
        shape[-1] = shape[-1] // 2 + 1
        return tuple(shape)

    def _spectrum_shape(self):
        full = self._full_shape()
        return full if self.grid.all_periodic else fft.mirrored_shape(full)

    def _disk_key(self):
        """Key of this solver's spectrum in the on-disk cache, or None (cache off, periodic
        grid, kernel object or ``transfer_factor=``)."""
        if self._cache_key is None or self.grid.all_periodic or _cache.kernel_cache_path() is None:
            return None
        g, (_, geometry, padded, name, opts) = self.grid, self._cache_key
        try:
            version = importlib.metadata.version("fieldsolve")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
            version = "unknown"
        return {"format": _cache.FORMAT, "version": version, "kernel": name,
                "options": [list(o) for o in opts], "shape": list(g.shape),
                "spacing": [float(h).hex() for h in g.spacing], "periodic": list(g.periodic),
                "padded_shape": list(padded), "padding": self.padding, "geometry": geometry,
                "dtype": "float64"}

    def padded_kernel(self):
        """Real-space free-space kernel on the padded grid (origin at index 0)."""
        if isinstance(self.kernel, PeriodicKernel):
            return self.kernel.array(self.grid)
        if self.periodic_axes:
            raise ValueError("padded_kernel() is per transverse mode for mixed boundaries")
        g = self.grid
        return self.kernel.array(g, self.padded_shape, self.geometry)

    def _build_spectrum(self):
        spec = self._kernel_spectrum()
        if self.transfer_factor is not None:
            g = self.grid
            padded = Grid(self.padded_shape, tuple(h * n for h, n in zip(g.spacing, self.padded_shape)))
            factor = np.broadcast_to(np.asarray(self.transfer_factor(padded), dtype=np.float64),
                                     self._full_shape())
            spec = spec * factor[tuple(slice(0, n) for n in spec.shape)]
        return spec

    def _kernel_spectrum(self):
        g = self.grid
        if isinstance(self.kernel, PeriodicKernel):
            return self.kernel.transfer(g)
        if not self.periodic_axes:
            return self.kernel.transfer(g, self.padded_shape, self.geometry, half=True)
        # mixed: per transverse mode |k_perp|, a lag kernel on the free axes
        kvec = []
        for a in self.periodic_axes:
            k = g.wavenumbers(a, rfft=(a == g.ndim - 1))
            kvec.append(k)
        mesh = np.meshgrid(*kvec, indexing="ij", sparse=True)
        kperp = np.sqrt(sum(k * k for k in mesh))
        fs = [g.spacing[a] for a in self.free_axes]
        fc = [g.shape[a] for a in self.free_axes]
        oct_ = self.kernel.mode_octant(fs, fc, kperp)  # (*free lags, *periodic layout)
        nf = len(self.free_axes)
        padded_free = [self.padded_shape[a] for a in self.free_axes]
        oct_ = pad_kernel(oct_, padded_free + list(kperp.shape), free_axes=range(nf))
        # move axes into grid order
        order = list(self.free_axes) + list(self.periodic_axes)
        arr = np.moveaxis(oct_, list(range(g.ndim)), order)
        half = padded_transfer(arr, free_axes=self.free_axes)
        return np.ascontiguousarray(half[tuple(slice(0, n) for n in fft.mirrored_shape(half.shape))])

    # -- solve ---------------------------------------------------------------------------------
    def solve(self, f):
        """Potential ``phi`` (same shape and float dtype as ``f``) with ``lap(phi) = f``.

        Periodic grids drop the ``k = 0`` mode (zero-mean ``phi`` of ``f - mean(f)``)."""
        f = _check_source(self.grid, f, check_finite=False)
        spec = self._stored(f.dtype)
        if self.grid.all_periodic:
            X = fft.rfftn(f)
            _check_sum(X)
            self._check_mean(f, X)
            fft.multiply_real(X, spec)
            return fft.irfftn(X, self.grid.shape, overwrite_input=True)
        if self.pruned:
            return self._solve_pruned(f, spec)
        return self._solve_padded(f, spec)

    __call__ = solve

    def _check_mean(self, f, X):
        if not self.warn_mean:
            return
        mean = abs(X.flat[0].real) / f.size
        if mean == 0.0:
            return
        tol = 1e-3 if f.dtype == np.float32 else 1e-6
        # a strided sample bounds max|f| from below: only a suspicious mean costs a full pass
        if f.flags.c_contiguous:
            sub = f.reshape(-1)[::61]
            if mean <= tol * max(abs(float(sub.max())), abs(float(sub.min()))):
                return
        _warn_mean(mean, max(abs(float(f.max())), abs(float(f.min()))), tol)

    def _solve_padded(self, f, spec):
        """Unpruned: pad every free axis to P, one full r2c, multiply, one c2r, crop."""
        g = self.grid
        fp = _zeros(self.padded_shape, f.dtype)
        fp[tuple(slice(0, n) for n in g.shape)] = f
        X = fft.rfftn(fp)
        del fp
        _check_sum(X)
        fft.multiply_mirrored(X, spec)
        phi = fft.irfftn(X, self.padded_shape, overwrite_input=True)
        return np.ascontiguousarray(phi[tuple(slice(0, n) for n in g.shape)])

    def _solve_pruned(self, f, spec):
        """Pruned, in place in one padded buffer ``B`` (complex, rfft layout of the padded
        shape; its real view holds the padded source, FFTW's in-place r2c layout).

        Forward: r2c along the last axis on the ``N`` unpadded lines only, then c2c one axis at
        a time (periodic axes first, then free ones), each free axis zero-extended right before
        it is transformed, so no line of zeros is ever transformed. Backward mirrors it and
        keeps only the ``N`` output lines of each axis. Memory: one padded complex array plus
        the real kernel spectrum; no temporaries of the padded size."""
        g = self.grid
        last = g.ndim - 1
        P = self.padded_shape
        n = g.shape
        shape = P[:last] + (P[last] // 2 + 1,)
        dtype = np.result_type(f.dtype, np.complex64)  # complex64 for float32, else complex128
        try:
            B = self._buffers.pop()
        except IndexError:
            B = None
        if B is None or B.dtype != dtype:
            B = _empty_aligned(shape, dtype)
        Bv = B.view(f.dtype)  # (..., 2 (P_last // 2 + 1)) reals
        region = [slice(0, n[a]) for a in range(last)]
        Bv[tuple(region) + (slice(0, n[last]),)] = f
        Bv[tuple(region) + (slice(n[last], None),)] = 0
        fft.execute("r2c", Bv[tuple(region) + (slice(0, P[last]),)], B[tuple(region)], last)
        _pruned_c2c(B, region, self._c2c_order(), n, P, True)
        _check_sum(B)
        fft.multiply_mirrored(B, spec)
        _pruned_c2c(B, region, self._c2c_order(), n, P, False)
        fft.execute("c2r", B[tuple(region)], Bv[tuple(region) + (slice(0, P[last]),)], last)
        phi = np.empty(n, f.dtype)
        np.multiply(Bv[tuple(region) + (slice(0, n[last]),)], f.dtype.type(1.0 / np.prod(P)),
                    out=phi)
        if self.keep_buffer and not self._buffers:
            self._buffers.append(B)
        return phi

    def _c2c_order(self):
        """Axes of a pruned solve's c2c transforms: periodic, then free (the last is the r2c's)."""
        return [a for a in self.periodic_axes + self.free_axes if a != self.grid.ndim - 1]

    # -- derivatives ---------------------------------------------------------------------------
    @api(renamed={"method": "gradient"})
    def gradient(self, phi, gradient=None):
        """``grad(phi)`` components-first, shape ``(ndim, *grid.shape)``.

        ``gradient`` (the derivative kernel; older name ``method=``): ``"spectral"`` (``i k``, periodic axes only, Nyquist mode zeroed so the
        result is real and odd-symmetric), ``"fd2"`` (central 2nd order) or ``"fd4"``
        (central 4th order ``(8 (f_{+1} - f_{-1}) - (f_{+2} - f_{-2})) / 12h``). On free axes
        the FD stencils become one-sided (same order) at the two ends. Default: ``"spectral"``
        on an all-periodic grid, ``"fd4"`` otherwise."""
        return _gradient(self.grid, phi, gradient)

    @api(renamed={"method": "gradient"})
    def field(self, f, gradient=None):
        """``-grad(phi)`` for ``lap(phi) = f`` (the acceleration for ``f = 4 pi G rho``); for the
        force of particles use :class:`fieldsolve.pm.ParticleMesh`, which pairs the gradient with
        the deposit window (its defaults are checked against an Ewald sum)."""
        g = self.grid
        method = _default_method(g, gradient)
        if g.all_periodic and method == "spectral":
            f = _check_source(g, f, check_finite=False)
            X = fft.rfftn(f)
            _check_sum(X)
            self._check_mean(f, X)
            X *= self.transfer(f.dtype)
            return -_spectral_gradient_hat(as_decomposition(g), X, f.dtype)
        return -_gradient(g, self.solve(f), method)


def _pruned_c2c(B, region, order, n, P, forward):
    """The c2c transforms of a pruned solve, in place in ``B`` along ``order``: forward, each axis
    zero-extended from ``n`` to ``P`` right before its transform (no line of zeros transformed);
    backward in reverse order, keeping the ``n`` output lines. ``region`` follows along."""
    for a in (order if forward else reversed(order)):
        if forward and P[a] != n[a]:
            region[a] = slice(n[a], P[a])
            B[tuple(region)] = 0
            region[a] = slice(None)
        fft.execute("c2c_f" if forward else "c2c_b", B[tuple(region)], B[tuple(region)], a)
        if not forward:
            region[a] = slice(0, n[a])


def _default_method(grid, method):
    if method is None:
        return "spectral" if grid.all_periodic else "fd4"
    if method not in GRADIENTS:
        raise ValueError(f"gradient={method!r} unknown; choose one of {GRADIENTS}")
    if method == "spectral" and not grid.all_periodic:
        raise ValueError("gradient='spectral' needs every axis periodic (a free-space potential "
                         "is not periodic); use 'fd2' or 'fd4'")
    return method


def _spectral_gradient_hat(decomp, X, dtype):
    """``i k X`` transformed back, per axis: this rank's slab (the whole grid in serial)."""
    return dfft.irfftn_each(decomp, X, differencing_symbols(decomp.block, "spectral"), 1j, dtype)


@api(renamed={"method": "gradient"})
def gradient(grid, phi, gradient=None):
    """``grad(phi)`` components-first ``(ndim, *shape)``; see :meth:`PoissonSolver.gradient`."""
    return _gradient(grid, phi, gradient)


def _gradient(grid, phi, method):
    if not isinstance(grid, Grid):
        raise ValueError(f"grid must be a fieldsolve.Grid, got {type(grid).__name__}")
    method = _default_method(grid, method)
    phi = _check_source(grid, phi, "phi")
    if method == "spectral":
        return _spectral_gradient_hat(as_decomposition(grid), fft.rfftn(phi), phi.dtype)
    out = np.empty((grid.ndim,) + grid.shape, dtype=phi.dtype)
    for a in range(grid.ndim):
        out[a] = fd_derivative(phi, a, grid.spacing[a], method, grid.periodic[a])
    return out
