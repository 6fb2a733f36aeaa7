"""The convolution kernel: real-space weights with the origin at index 0 <-> transfer function.

Every kernel of fieldsolve -- assignment windows, finite-difference stencils, Green's functions
and LES filters -- is a :class:`Kernel`: ``transfer(grid)`` is its Fourier multiplier on the
grid's (r)FFT layout, ``array(grid)`` its real-space weights on the grid with the **origin at
index 0** (negative offsets wrapped to the end of each axis: entry ``i`` is the weight at the
signed offset ``grid.mode_numbers(a)[i] * h_a``), and ``apply(grid, field)`` the periodic
convolution ``IFFT(transfer * FFT(field))``. By the convolution theorem the three agree:
``transfer(grid) == rfftn(array(grid))`` (up to aliasing where the transfer function is given
in closed form, e.g. the continuous windows). A kernel placed "centred" in the array instead
of at index 0 multiplies the transfer function by ``(-1)^m`` -- a half-box shift.

Kernels are looked up by family and name (:func:`get`, :func:`names`); the families are
``"window"``, ``"gradient"``, ``"periodic"`` and ``"free"`` (Green's functions) and
``"filter"``. ``config.py`` validates names against the same registry.
"""
from __future__ import annotations

import numpy as np

from .. import fft

__all__ = ["Kernel", "apply_transfer", "register", "get", "names", "FAMILIES"]

FAMILIES = ("window", "gradient", "periodic", "free", "filter")
_REGISTRY: dict = {f: {} for f in FAMILIES}


class Kernel:
    """A named convolution kernel with options and an order of accuracy.

    Subclasses set ``family``, ``name``, ``order`` (``math.inf`` for spectral accuracy) and
    ``option_names``, and implement :meth:`transfer`.
    """

    family = "kernel"
    name = "kernel"
    order = 2
    option_names: tuple = ()

    def __init__(self, **options):
        unknown = set(options) - set(self.option_names)
        if unknown:
            allowed = ", ".join(self.option_names) or "none"
            raise ValueError(f"kernel {self.name!r} got unknown option(s) {sorted(unknown)}; "
                             f"accepted: {allowed}")
        self.options = dict(options)

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({self.name!r}{', ' + opts if opts else ''})"

    def transfer(self, grid, rfft=True):  # pragma: no cover - abstract
        """Fourier multiplier on the rfft (or full fft) layout of ``grid``."""
        raise NotImplementedError

    def array(self, grid):
        """Real-space weights on ``grid.shape``, origin at index 0 (inverse DFT of
        :meth:`transfer`)."""
        t = np.broadcast_to(self.transfer(grid), grid.rfft_shape)
        return fft.irfftn(np.asarray(t, dtype=np.complex128), grid.shape)

    def apply(self, grid, field, *, hat=False):
        """Convolve a periodic ``field`` (``grid.shape`` or ``(C, *grid.shape)``) with the
        kernel; ``hat=True``: multiply an rfft-layout spectrum in place instead."""
        t = np.broadcast_to(self.transfer(grid), grid.rfft_shape)
        if hat:
            return apply_transfer(field, t)
        f = np.asarray(field)
        if f.dtype not in (np.float32, np.float64):
            f = f.astype(np.float64)
        axes = tuple(range(f.ndim - grid.ndim, f.ndim))
        X = apply_transfer(fft.rfftn(f, axes=axes), t)
        return fft.irfftn(X, grid.shape, axes=axes, overwrite_input=True)


def apply_transfer(X, t):
    """``X *= t`` in place for an rfft-layout spectrum ``X`` (leading component axes allowed):
    the one multiply every kernel application goes through (real ``t`` without a complex
    temporary, :func:`fieldsolve.fft.multiply_real`)."""
    t = np.asarray(t)
    if np.iscomplexobj(t):
        X *= t
        return X
    real = np.float32 if X.dtype == np.complex64 else np.float64
    t = np.ascontiguousarray(np.broadcast_to(t, X.shape[X.ndim - t.ndim:]), dtype=real)
    if X.shape == t.shape:
        return fft.multiply_real(X, t)
    for c in np.ndindex(X.shape[:X.ndim - t.ndim]):
        fft.multiply_real(X[c], t)
    return X


def register(family, name, factory):
    """Make ``factory(**options)`` available as ``get(family, name)``."""
    _REGISTRY[family][name] = factory
    return factory


def names(family=None):
    """Registered names of one family in registration order (lowest order first), or a dict of
    all families."""
    if family is None:
        return {f: tuple(v) for f, v in _REGISTRY.items()}
    if family not in _REGISTRY:
        raise ValueError(f"unknown kernel family {family!r}; families: {FAMILIES}")
    return tuple(_REGISTRY[family])


def get(family, name, **options):
    """Build the kernel ``name`` of ``family`` with its options (a Kernel passes through)."""
    if isinstance(name, Kernel):
        if options:
            raise ValueError("options cannot be combined with a kernel object")
        return name
    if not isinstance(name, str):
        raise ValueError(f"a {family} kernel must be a name or a Kernel object, got "
                         f"{type(name).__name__}")
    table = _REGISTRY[family]
    key = name.lower()
    if key not in table:
        raise ValueError(f"unknown {family} kernel {name!r}; choose one of {names(family)}")
    return table[key](**options)
