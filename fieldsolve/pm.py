"""Particle-mesh (PM) force law: deposit -> solve -> gradient -> readout.

Gravity with ``lap(phi) = 4 pi G rho`` and acceleration ``a = -grad(phi)`` (a particle of mass
``M`` pulls a test particle at distance ``r`` with ``G M / r^2`` towards it).

Periodic grids (all axes periodic) stay in Fourier space between the deposit and the readout:

    a_hat(k) = -i D(k) G_hat(k) [4 pi G rho_hat(k)] / W(k)^2,

with the deposit window ``W`` divided out twice (deposit and readout) when ``deconvolve`` is
set, ``D`` the spectral (``i k``, Nyquist zeroed) or FD2/FD4 differencing symbol, ``G_hat``
the kernel of :class:`~fieldsolve.PoissonSolver` (``split=r_s`` multiplies it by
``exp(-k^2 r_s^2)``, the long-range part of a TreePM split), and ``k = 0`` dropped (the mean
density is a neutralising background). Window deconvolution amplifies aliases unless the
force is smoothed: use it with ``split`` (Gadget uses ``r_s = 1.25 h``), or use
``kernel="optimal"``, whose Hockney-Eastwood influence function has the deconvolution built in.

Free or mixed grids: ``phi`` from the padded Green's-function solve, FD4 gradient in real
space, no deconvolution.
"""
from __future__ import annotations

import numpy as np

from . import fft
from .assign import deposit, interpolate
from .grid import Grid
from .green import OptimalKernel, PeriodicKernel
from .poisson import PoissonSolver, gradient as _gradient
from .windows import window_transfer

__all__ = ["accelerations", "mesh_accelerations"]

_DIFF = ("spectral", "fd2", "fd4")


def _diff_symbol(grid, method):
    out = []
    for a, k in enumerate(grid.kvectors()):
        h = grid.spacing[a]
        if method == "spectral":
            k = k.copy()
            n = grid.shape[a]
            if n % 2 == 0:
                k[(slice(None),) * a + (n // 2,)] = 0.0  # Nyquist of i k is not real
            out.append(k)
        elif method == "fd2":
            out.append(np.sin(k * h) / h)
        else:
            out.append((8 * np.sin(k * h) - np.sin(2 * k * h)) / (6 * h))
    return out


def mesh_accelerations(grid, rho, *, G=1.0, scheme="cic", kernel=None, gradient="spectral",
                       deconvolve=None, solver=None, **kernel_options):
    """Acceleration field ``-grad(phi)`` on the mesh, shape ``(ndim, *grid.shape)``, for a
    density ``rho`` deposited with window ``scheme`` (see :func:`accelerations`)."""
    if not isinstance(grid, Grid):
        raise ValueError(f"grid must be a fieldsolve.Grid, got {type(grid).__name__}")
    if gradient not in _DIFF:
        raise ValueError(f"gradient={gradient!r}; choose one of {_DIFF}")
    if solver is None:
        solver = PoissonSolver(grid, kernel, warn_mean=False, **kernel_options)
    elif kernel is not None or kernel_options:
        raise ValueError("pass either solver= or kernel/kernel options, not both")
    if solver.grid != grid:
        raise ValueError("solver.grid differs from grid")
    rho = np.asarray(rho)
    if grid.all_periodic:
        optimal = isinstance(solver.kernel, OptimalKernel)
        if deconvolve is None:
            deconvolve = not optimal
        if optimal and deconvolve:
            raise ValueError("kernel 'optimal' already deconvolves the window; "
                             "pass deconvolve=False")
        if optimal and solver.kernel.differencing != gradient:
            raise ValueError(f"kernel 'optimal' was built for differencing="
                             f"{solver.kernel.differencing!r} but gradient={gradient!r}")
        if rho.shape != grid.shape or not np.isfinite(rho).all():
            raise ValueError(f"rho must be a finite array of shape {grid.shape}")
        X = fft.rfftn(rho)
        X *= 4 * np.pi * G
        X.flat[0] = 0.0  # neutralising background
        spec = solver.spectrum(X.real.dtype)
        if deconvolve:
            w = window_transfer(grid, scheme)
            X *= (spec / (w * w)).astype(spec.dtype)
        else:
            X *= spec
        out = np.empty((grid.ndim,) + grid.shape, dtype=rho.dtype if rho.dtype == np.float32 else np.float64)
        for a, d in enumerate(_diff_symbol(grid, gradient)):
            # a = -grad(phi): -i D phi_hat
            out[a] = fft.irfftn(X * (-1j * d), grid.shape, overwrite_input=True)
        return out
    if isinstance(solver.kernel, PeriodicKernel):  # pragma: no cover - check() forbids it
        raise ValueError("periodic kernel on a free grid")
    if deconvolve:
        raise ValueError("window deconvolution needs an all-periodic grid")
    if gradient == "spectral":
        gradient = "fd4"  # a free-space potential is not periodic
    phi = solver.solve(4 * np.pi * G * rho)
    return -_gradient(grid, phi, gradient)


def accelerations(grid, positions, masses, *, G=1.0, scheme="cic", kernel=None,
                  gradient="spectral", deconvolve=None, interlace=False, targets=None,
                  solver=None, **kernel_options):
    """PM accelerations ``a = -grad(phi)``, ``lap(phi) = 4 pi G rho``, at particle positions.

    Parameters
    ----------
    grid : Grid (periodic, free or mixed).
    positions : (N, ndim) particle positions; masses : (N,) or scalar.
    G : gravitational constant.
    scheme : assignment window for deposit and readout (``"ngp" | "cic" | "tsc" | "pcs"``).
    kernel : PoissonSolver kernel name (default ``"spectral"`` periodic, ``"zeta"`` free);
        extra keyword options go to the kernel (e.g. ``split=1.25 * h`` for the long-range
        part of a TreePM split, ``window=`` for ``"optimal"``).
    gradient : ``"spectral"`` (``i k``), ``"fd2"`` or ``"fd4"`` (4-point super-Lanczos).
        Free axes always use real-space FD4.
    deconvolve : divide by ``W(k)^2`` (periodic only). Default True, except for
        ``kernel="optimal"`` (built in) and non-periodic grids.
    interlace : interlaced deposit (periodic only), cancels the odd alias images.
    targets : (M, ndim) evaluation points (default: the particles themselves). Particles with
        zero mass are convenient test particles.
    solver : a prebuilt :class:`PoissonSolver` (reuses its cached kernel spectrum).

    Returns
    -------
    (M, ndim) float64 accelerations.
    """
    rho = deposit(grid, positions, masses, scheme, density=True, interlace=interlace)
    acc = mesh_accelerations(grid, rho, G=G, scheme=scheme, kernel=kernel, gradient=gradient,
                             deconvolve=deconvolve, solver=solver, **kernel_options)
    pts = positions if targets is None else targets
    return interpolate(grid, acc, pts, scheme)
