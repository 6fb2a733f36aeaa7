"""Uniform, cell-centred Cartesian grids in 1, 2 or 3 dimensions.

Convention (used by every module of fieldsolve): a grid of ``shape = (n_0, ..., n_{d-1})``
cells covers the box ``[origin_a, origin_a + box_a)`` on each axis ``a``, with spacing
``h_a = box_a / n_a``. Cell ``i`` spans ``[origin + i h, origin + (i+1) h)`` and its value is
attached to the **cell centre** ``origin + (i + 1/2) h``. Node-centred peers (pmesh, Pylians)
place value ``i`` at ``origin + i h``: the two differ by half a cell, i.e. by the phase
``exp(-i k.h/2)`` in Fourier space.

Fourier conventions: wavenumbers are angular, ``k_a = 2 pi m / box_a`` with ``m`` the
integer mode number in ``numpy.fft.fftfreq`` order (or ``rfftfreq`` order on the last axis for
the real-FFT layout). Nyquist ``k_a = pi / h_a``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "signed_modes"]


def _per_axis(value, ndim, name, kind):
    """Broadcast a scalar or a length-``ndim`` sequence to a tuple of ``kind``."""
    if np.ndim(value) == 0:
        vals = (value,) * ndim
    else:
        vals = tuple(np.asarray(value).ravel().tolist())
        if len(vals) != ndim:
            raise ValueError(f"{name} has {len(vals)} entries but the grid has {ndim} axes")
    try:
        return tuple(kind(v) for v in vals)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r} is not a {kind.__name__} or a tuple of them") from exc


@dataclass(frozen=True, eq=True)
class Grid:
    """A uniform cell-centred grid.

    Parameters
    ----------
    shape : int or tuple of 1-3 ints
        Number of cells per axis (each >= 1).
    box : float or tuple of floats
        Physical length of the box on each axis (> 0, finite).
    origin : float or tuple of floats, default 0
        Lower corner of the box.
    periodic : bool or tuple of bools, default True
        Periodic (wrapping) or bounded, per axis.

    Instances are immutable and hashable, so solvers can cache kernels on them.
    """

    shape: tuple
    box: tuple
    origin: tuple = 0.0
    periodic: tuple = True

    def __post_init__(self):
        shape = self.shape
        if np.ndim(shape) == 0:
            shape = (shape,)
        try:
            shape = tuple(operator_index(s) for s in shape)
        except TypeError as exc:
            raise ValueError(f"shape={self.shape!r} must be a tuple of 1 to 3 positive ints") from exc
        if not 1 <= len(shape) <= 3 or any(s < 1 for s in shape):
            raise ValueError(f"shape={self.shape!r} must be a tuple of 1 to 3 positive ints")
        ndim = len(shape)
        box = _per_axis(self.box, ndim, "box", float)
        if any(not (math.isfinite(b) and b > 0) for b in box):
            raise ValueError(f"box={self.box!r}: every length must be finite and > 0")
        origin = _per_axis(self.origin, ndim, "origin", float)
        if any(not math.isfinite(o) for o in origin):
            raise ValueError(f"origin={self.origin!r} must be finite")
        periodic = self.periodic
        if np.ndim(periodic) == 0:
            periodic = (periodic,) * ndim
        periodic = tuple(periodic)
        if len(periodic) != ndim or not all(isinstance(p, (bool, np.bool_)) for p in periodic):
            raise ValueError(f"periodic={self.periodic!r} must be a bool or a tuple of {ndim} bools")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "periodic", tuple(bool(p) for p in periodic))

    # -- geometry -------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        """Total number of cells."""
        return math.prod(self.shape)

    @property
    def spacing(self) -> tuple:
        """Cell size ``h_a = box_a / n_a`` per axis."""
        return tuple(b / n for b, n in zip(self.box, self.shape))

    @property
    def cell_volume(self) -> float:
        """``prod_a h_a`` (a length in 1D, an area in 2D)."""
        return math.prod(self.spacing)

    @property
    def volume(self) -> float:
        return math.prod(self.box)

    @property
    def all_periodic(self) -> bool:
        return all(self.periodic)

    def coords(self, axis: int) -> np.ndarray:
        """Cell-centre coordinates ``origin + (i + 1/2) h`` along ``axis``."""
        axis = self._axis(axis)
        h = self.spacing[axis]
        return self.origin[axis] + (np.arange(self.shape[axis]) + 0.5) * h

    def mesh(self, sparse: bool = False) -> tuple:
        """Cell-centre coordinate arrays, ``np.meshgrid(..., indexing="ij")``."""
        return tuple(np.meshgrid(*(self.coords(a) for a in range(self.ndim)),
                                 indexing="ij", sparse=sparse))

    def contains(self, positions) -> np.ndarray:
        """Boolean mask of positions ``(N, ndim)`` inside the box (periodic axes always count)."""
        x = np.asarray(positions)
        inside = np.ones(x.shape[0], dtype=bool)
        for a in range(self.ndim):
            if not self.periodic[a]:
                inside &= (x[:, a] >= self.origin[a]) & (x[:, a] < self.origin[a] + self.box[a])
        return inside

    # -- Fourier space -------------------------------------------------------------------
    @property
    def rfft_shape(self) -> tuple:
        """Shape of the real-FFT (half-complex) layout: last axis ``n//2 + 1``."""
        return self.shape[:-1] + (self.shape[-1] // 2 + 1,)

    def wavenumbers(self, axis: int, rfft: bool = False) -> np.ndarray:
        """Angular wavenumbers ``2 pi m / box`` along ``axis`` in FFT order.

        With ``rfft=True`` the last axis uses the non-negative ``rfftfreq`` layout.
        """
        axis = self._axis(axis)
        n, h = self.shape[axis], self.spacing[axis]
        if rfft and axis == self.ndim - 1:
            return 2 * np.pi * np.fft.rfftfreq(n, d=h)
        return 2 * np.pi * np.fft.fftfreq(n, d=h)

    def mode_numbers(self, axis: int, rfft: bool = False) -> np.ndarray:
        """Signed integer mode numbers ``m`` along ``axis`` in FFT order (``rfft=True``: the
        non-negative half on the last axis). The same integers are the signed offsets of the
        entries of a kernel array with its origin at index 0 (minimum image, see
        :func:`signed_modes`)."""
        axis = self._axis(axis)
        n = self.shape[axis]
        if rfft and axis == self.ndim - 1:
            return np.arange(n // 2 + 1)
        return signed_modes(n)

    def kvectors(self, rfft: bool = True, sparse: bool = True) -> tuple:
        """Wavenumber arrays per axis, broadcastable to the (r)FFT layout."""
        ks = []
        for a in range(self.ndim):
            k = self.wavenumbers(a, rfft=rfft)
            view = [1] * self.ndim
            view[a] = k.size
            ks.append(k.reshape(view))
        if not sparse:
            target = self.rfft_shape if rfft else self.shape
            ks = [np.broadcast_to(k, target) for k in ks]
        return tuple(ks)

    def k2(self, rfft: bool = True) -> np.ndarray:
        """``|k|^2`` on the (r)FFT layout."""
        return sum(k * k for k in self.kvectors(rfft=rfft))

    def nyquist_mask(self, rfft: bool = True) -> np.ndarray:
        """Boolean array on the (r)FFT layout: True where any even-length axis sits at its
        Nyquist mode (``m_a = n_a / 2``). There ``k`` and ``-k`` are the same mode, so a real
        field cannot carry an odd operator (``i k``, a half-cell shift) on it."""
        mask = np.zeros(self.rfft_shape if rfft else self.shape, dtype=bool)
        for a, n in enumerate(self.shape):
            if n % 2 == 0:
                idx = [slice(None)] * self.ndim
                idx[a] = n // 2  # fftfreq and rfftfreq both put Nyquist at n // 2
                mask[tuple(idx)] = True
        return mask

    @property
    def nyquist(self) -> tuple:
        """Nyquist wavenumber ``pi / h_a`` per axis."""
        return tuple(np.pi / h for h in self.spacing)

    @property
    def kfundamental(self) -> tuple:
        """Fundamental wavenumber ``2 pi / box_a`` per axis."""
        return tuple(2 * np.pi / b for b in self.box)

    # -- helpers ---------------------------------------------------------------------------
    def _axis(self, axis: int) -> int:
        if not -self.ndim <= axis < self.ndim:
            raise ValueError(f"axis={axis} out of range for a {self.ndim}-D grid")
        return axis % self.ndim

    def __repr__(self):
        return (f"Grid(shape={self.shape}, box={self.box}, origin={self.origin}, "
                f"periodic={self.periodic})")


def signed_modes(n: int) -> np.ndarray:
    """The one rule for signed indices on a periodic axis of ``n`` points: ``j`` for
    ``j < n/2`` (``j <= (n-1)/2`` when ``n`` is odd), ``j - n`` above (so the even-``n``
    Nyquist index ``n/2`` maps to ``-n/2``). Mode numbers, minimum-image offsets and the lags of
    padded kernels (``n = 2N`` or the minimal ``2N - 1``) all use it."""
    return np.rint(np.fft.fftfreq(n) * n).astype(np.int64)


def operator_index(value) -> int:
    """``operator.index`` that also accepts integral floats from YAML (``64.0``), not ``64.5``."""
    import operator

    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return operator.index(value)
