"""Finite-difference and spectral derivative kernels (family ``"gradient"``) and the
Laplacian symbols the periodic Green's functions invert.

Gradient along axis ``a``: ``d phi / dx_a <-> i D_a(k) phi_hat`` with the real symbol

    "spectral":  D = k                         (Nyquist plane zeroed on even axes)
    "fd2":       D = sin(k h) / h              (central, 2nd order)
    "fd4":       D = (8 sin(k h) - sin(2 k h)) / (6 h)   (central, 4th order, FastPM's)

and stencil weights ``(phi_{+1} - phi_{-1}) / 2h`` and ``(8 (phi_{+1} - phi_{-1}) - (phi_{+2} -
phi_{-2})) / 12h``. On bounded axes :func:`fd_derivative` switches to one-sided stencils of the
same order at the two ends. Laplacian symbols ``-K^2(k)``, with ``s_a = sin^2(k_a h_a / 2)``:
``"fd2"`` (3-point per axis) ``K^2 = sum 4 s_a / h_a^2``; ``"fd4"`` (5-point)
``sum (4 s_a + 4/3 s_a^2) / h_a^2``.
"""
from __future__ import annotations

import numpy as np

from .base import Kernel, register

__all__ = ["GRADIENTS", "Gradient", "differencing_symbols", "sin2", "fd_derivative"]

GRADIENTS = ("spectral", "fd2", "fd4")


def sin2(grid, rfft=True):
    """``s_a = sin^2(k_a h_a / 2)`` per axis on the (r)FFT layout."""
    return [np.sin(k * h / 2) ** 2 for k, h in zip(grid.kvectors(rfft=rfft), grid.spacing)]


def differencing_symbols(grid, method, rfft=True):
    """Per-axis real symbols ``D_a(k)`` of a gradient, ``d phi / dx_a <-> i D_a(k) phi_hat``
    (module doc); arrays broadcast to the (r)FFT layout of ``grid``."""
    if method not in GRADIENTS:
        raise ValueError(f"gradient={method!r}; choose one of {GRADIENTS}")
    out = []
    for a, k in enumerate(grid.kvectors(rfft=rfft)):
        h = grid.spacing[a]
        if method == "spectral":
            n = grid.shape[a]
            if n % 2 == 0:  # i k on the Nyquist plane is not the transform of a real field
                # by mode number, not index: a block of the layout (fieldsolve.parallel) works too
                m = grid.mode_numbers(a, rfft=rfft).reshape(k.shape)
                k = np.where(np.abs(m) == n // 2, 0.0, k)
            out.append(k)
        elif method == "fd2":
            out.append(np.sin(k * h) / h)
        else:
            out.append((8 * np.sin(k * h) - np.sin(2 * k * h)) / (6 * h))
    return tuple(out)


_STENCILS = {"fd2": np.array([0.5]), "fd4": np.array([8.0, -1.0]) / 12.0}
# one-sided stencils (offsets 0..4) for the ends of a bounded axis
_FD4_EDGE = (np.array([-25, 48, -36, 16, -3]) / 12.0, np.array([-3, -10, 18, -6, 1]) / 12.0)
_FD2_EDGE = (np.array([-3, 4, -1]) / 2.0,)


class Gradient(Kernel):
    """The derivative along one axis as a kernel: ``transfer = i D_axis(k)``; ``array`` the
    (antisymmetric) stencil with the origin at index 0 (the spectral one: its inverse DFT)."""

    family = "gradient"
    option_names = ("axis",)

    def __init__(self, method, **options):
        super().__init__(**options)
        if method not in GRADIENTS:
            raise ValueError(f"gradient={method!r}; choose one of {GRADIENTS}")
        self.name = method
        self.axis = int(self.options.get("axis", 0))
        self.order = {"spectral": np.inf, "fd2": 2, "fd4": 4}[method]

    def transfer(self, grid, rfft=True):
        return 1j * differencing_symbols(grid, self.name, rfft)[self.axis]

    def array(self, grid):
        if self.name == "spectral":
            return super().array(grid)
        h = grid.spacing[self.axis]
        n = grid.shape[self.axis]
        w = np.zeros(n)
        for j, c in enumerate(_STENCILS[self.name], start=1):
            # d/dx at 0 = sum_j c_j (phi_j - phi_-j) / h: as a convolution kernel, +c at -j
            w[-j % n] += c / h
            w[j % n] -= c / h
        out = np.zeros(grid.shape)
        out[(0,) * self.axis + (slice(None),) + (0,) * (grid.ndim - self.axis - 1)] = w
        return out


for _m in GRADIENTS:
    register("gradient", _m, (lambda m: lambda **o: Gradient(m, **o))(_m))


def fd_derivative(phi, axis, h, method, periodic):
    """``d phi / dx_axis`` by the FD2/FD4 stencil in real space; on a bounded axis the end
    rows use one-sided stencils of the same order."""
    d = np.empty_like(phi)
    if periodic:
        if method == "fd2":
            d[...] = (np.roll(phi, -1, axis) - np.roll(phi, 1, axis)) / (2 * h)
        else:
            d[...] = (8 * (np.roll(phi, -1, axis) - np.roll(phi, 1, axis))
                      - (np.roll(phi, -2, axis) - np.roll(phi, 2, axis))) / (12 * h)
        return d
    p = np.moveaxis(phi, axis, 0)
    dv = np.moveaxis(d, axis, 0)
    n = p.shape[0]
    need = 3 if method == "fd2" else 5
    if n < need:
        raise ValueError(f"gradient={method!r} needs at least {need} cells on a free axis, got {n}")
    if method == "fd2":
        dv[1:-1] = (p[2:] - p[:-2]) / (2 * h)
        edges = _FD2_EDGE
    else:
        dv[2:-2] = (8 * (p[3:-1] - p[1:-3]) - (p[4:] - p[:-4])) / (12 * h)
        edges = _FD4_EDGE
    # edge row i uses the stencil edges[i] on p[0..m-1]; the far end is its mirror image
    for i, c in enumerate(edges):
        m = c.size
        dv[i] = sum(c[j] * p[j] for j in range(m)) / h
        dv[n - 1 - i] = -sum(c[j] * p[n - 1 - j] for j in range(m)) / h
    return d
