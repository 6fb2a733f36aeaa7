"""Mass-assignment windows NGP, CIC, TSC, PCS as convolution kernels (family ``"window"``).

A window of order ``p`` is the ``p``-fold convolution of the one-cell top hat with itself
(CIC = NGP * NGP, ...). In cell units (``x`` = distance / ``h``) its 1-D shape ``w_p(x)`` has
support ``p`` cells and sums to one over the grid (partition of unity). In Fourier space it is

    W_p(k) = prod_a [ sin(k_a h_a / 2) / (k_a h_a / 2) ]^p ,

and the alias sum needed by the optimal influence function and by shot-noise corrections is

    C_p(k) = sum_n W_p(k + 2 pi n / h)^2 = prod_a c_p(s_a),  s_a = sin^2(k_a h_a / 2),

with ``c_1 = 1``, ``c_2 = 1 - 2/3 s``, ``c_3 = 1 - s + 2/15 s^2`` and
``c_4 = 1 - 4/3 s + 2/5 s^2 - 4/315 s^3`` (Hockney & Eastwood 1988; Jing 2005 eq. 20; the
PCS polynomial follows from ``sum_n (x + pi n)^-8`` written in powers of ``sin^2 x``).

Interlacing (a second deposit shifted by ``h/2`` on every axis) cancels the aliases with odd
``n_1 + ... + n_d``; what is left needs the alternating sum

    A_p(k) = sum_n (-1)^n W_p(k + 2 pi n / h)^2 = cos(k h / 2) a_p(s),

``a_1 = 1``, ``a_2 = 1 - s/6``, ``a_3 = 1 - s/2 + s^2/120``,
``a_4 = 1 - 5/6 s + 13/120 s^2 - s^3/5040`` (from ``sum_n (-1)^n / (x + pi n) = 1 / sin x``
differentiated ``2p - 1`` times), and the even-parity alias sum is
``[prod_a C_p(k_a) + prod_a A_p(k_a)] / 2``.

As kernels: ``transfer(grid)`` is ``W(k) = prod_a W_p(k_a)``; ``array(grid)`` the weights a
particle at a cell centre gives the cells at signed offsets ``m`` (origin at index 0):
``prod_a w_p(m_a)``. NGP's face convention: a particle exactly on a cell face belongs to the
upper cell, ``w_1(x) = 1`` for ``-1/2 <= x < 1/2`` (the deposit kernels do the same).
"""
from __future__ import annotations

import numpy as np

from .._compat import api
from .base import Kernel, register

__all__ = ["Window", "WINDOWS", "get_window", "window_transfer", "window_alias_sum", "compensate"]


class Window(Kernel):
    """One assignment window: order ``p`` (= support in cells), shape and Fourier model."""

    family = "window"

    def __init__(self, name, order, alias_poly, alternating_poly):
        super().__init__()
        self.name, self.order = name, order
        self.alias_poly = tuple(alias_poly)  # c_p(s) in increasing powers of s
        self.alternating_poly = tuple(alternating_poly)  # a_p(s): sum (-1)^n W^2 = cos(kh/2) a_p

    def __repr__(self):
        return f"Window({self.name!r}, order={self.order})"

    def __eq__(self, other):
        return isinstance(other, Window) and other.name == self.name

    def __hash__(self):
        return hash(("window", self.name))

    @property
    def support(self) -> int:
        return self.order

    def shape(self, x):
        """1-D assignment function ``w_p(x)``, ``x`` in cells from the particle (NGP: 1 on
        ``[-1/2, 1/2)``)."""
        x = np.asarray(x, dtype=np.float64)
        p = self.order
        if p == 1:
            return ((x >= -0.5) & (x < 0.5)).astype(np.float64)
        x = np.abs(x)
        if p == 2:
            return np.clip(1.0 - x, 0.0, None)
        if p == 3:
            return np.where(x <= 0.5, 0.75 - x**2, np.where(x < 1.5, 0.5 * (1.5 - x) ** 2, 0.0))
        return np.where(x < 1.0, (4 - 6 * x**2 + 3 * x**3) / 6,
                        np.where(x < 2.0, (2 - x) ** 3 / 6, 0.0))

    def transfer_1d(self, k, h):
        """``W_p(k) = sinc(k h / 2)^p`` along one axis (``k`` angular, ``h`` the spacing)."""
        return np.sinc(np.asarray(k) * h / (2 * np.pi)) ** self.order

    def alias_sum(self, k, h):
        """``c_p(sin^2(k h/2)) = sum_n W_p(k + 2 pi n/h)^2`` along one axis."""
        s = np.sin(np.asarray(k) * h / 2) ** 2
        return np.polynomial.polynomial.polyval(s, self.alias_poly)

    def alias_sum_alternating(self, k, h):
        """``sum_n (-1)^n W_p(k + 2 pi n/h)^2 = cos(k h/2) a_p(sin^2(k h/2))`` along one axis."""
        x = np.asarray(k) * h / 2
        return np.cos(x) * np.polynomial.polynomial.polyval(np.sin(x) ** 2, self.alternating_poly)

    def transfer(self, grid, rfft=True):
        """``W(k) = prod_a sinc(k_a h_a/2)^p`` on the grid's (r)FFT layout."""
        return _product(grid, self.transfer_1d, rfft)

    def array(self, grid):
        """Weights of a particle at the centre of cell 0 (origin at index 0, wrapped)."""
        out = 1.0
        for a in range(grid.ndim):
            w = self.shape(grid.mode_numbers(a).astype(np.float64))
            view = [1] * grid.ndim
            view[a] = w.size
            out = out * w.reshape(view)
        return np.broadcast_to(out, grid.shape).copy()


WINDOWS = {
    "ngp": Window("ngp", 1, (1.0,), (1.0,)),
    "cic": Window("cic", 2, (1.0, -2.0 / 3.0), (1.0, -1.0 / 6.0)),
    "tsc": Window("tsc", 3, (1.0, -1.0, 2.0 / 15.0), (1.0, -0.5, 1.0 / 120.0)),
    "pcs": Window("pcs", 4, (1.0, -4.0 / 3.0, 2.0 / 5.0, -4.0 / 315.0),
                  (1.0, -5.0 / 6.0, 13.0 / 120.0, -1.0 / 5040.0)),
}
for _name, _w in WINDOWS.items():
    register("window", _name, (lambda w: lambda: w)(_w))


def get_window(window) -> Window:
    """Look a window up by name (``"ngp"``, ``"cic"``, ``"tsc"``, ``"pcs"``) or order 1-4."""
    if isinstance(window, Window):
        return window
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        for w in WINDOWS.values():
            if w.order == window:
                return w
    elif isinstance(window, str) and window.lower() in WINDOWS:
        return WINDOWS[window.lower()]
    raise ValueError(f"unknown assignment window {window!r}; choose one of {sorted(WINDOWS)} "
                     "or an order 1-4")


def _product(grid, fn, rfft):
    out = 1.0
    for a, k in enumerate(grid.kvectors(rfft=rfft)):
        out = out * fn(k, grid.spacing[a])
    return out


def window_transfer(grid, window, rfft=True):
    """``W(k) = prod_a sinc(k_a h_a/2)^p`` on the grid's (r)FFT layout."""
    return get_window(window).transfer(grid, rfft)


def window_alias_sum(grid, window, rfft=True, interlaced=False):
    """``sum_n W^2(k + 2 pi n/h) = prod_a c_p(s_a)`` on the grid's (r)FFT layout.

    ``interlaced=True``: the sum over the aliases an interlaced deposit keeps (even
    ``n_1 + ... + n_d``), ``[prod_a c_p(s_a) + prod_a cos(k_a h_a/2) a_p(s_a)] / 2``, except
    on Nyquist modes, where interlacing keeps the plain deposit (:func:`fieldsolve.deposit`)."""
    w = get_window(window)
    full = _product(grid, w.alias_sum, rfft)
    if not interlaced:
        return full
    even = 0.5 * (full + _product(grid, w.alias_sum_alternating, rfft))
    return np.where(grid.nyquist_mask(rfft), full, even)


@api(grid_first=True, renamed={"scheme": "window"}, whole_grid=True)
def compensate(grid, field_k, window="cic", power=1, aliased=False, out=None):
    """Deconvolve an assignment window in Fourier space.

    Divides ``field_k`` (the real-FFT layout of ``grid``, optionally with leading component
    axes) by ``W(k)^power``: ``power=1`` undoes one deposit, ``power=2`` a deposit followed by
    a readout with the same window. With ``aliased=True`` it divides instead by
    ``sqrt(C(k))^power``, the alias-summed window of Jing (2005) that nbodykit uses when the
    mesh is not interlaced. ``W`` never vanishes below Nyquist, so the division is safe.
    """
    field_k = np.asarray(field_k)
    expect = grid.rfft_shape
    if field_k.shape[-grid.ndim:] != expect:
        raise ValueError(f"compensate: field_k has shape {field_k.shape}, expected (..., *{expect}) "
                         "(the rfft layout of the grid)")
    if aliased:
        w = np.sqrt(window_alias_sum(grid, window))
    else:
        w = window_transfer(grid, window)
    factor = w ** (-float(power))
    if out is None:
        return field_k * factor
    np.multiply(field_k, factor, out=out)
    return out
