"""Particle-mesh (PM) forces: paint -> solve -> gradient -> readout, one code path.

Every PM force in fieldsolve -- :func:`accelerations`, and the ``nbody`` and ``pic`` runs --
goes through :class:`ParticleMesh`, which checks its combination of settings once.

Field equation ``lap(phi) = c rho`` with the coupling ``c`` (``4 pi G`` for gravity,
``-1/eps0`` for electrostatics) and field ``E = -grad(phi)``; a particle reads ``E`` at its
position with the same window it was painted with (readout is the adjoint of paint, so
momentum is conserved to rounding on periodic grids).

Periodic grids (every axis periodic) stay in Fourier space between paint and readout:

    E_hat(k) = -i D(k) G_hat(k) c rho_hat(k) [/ W(k)^2 with deconvolve=True],

``D`` the gradient symbol (:func:`fieldsolve.kernels.differencing_symbols`), ``G_hat`` the
periodic Green's function (``k = 0`` dropped: the mean density is a neutralising background)
and ``W`` the window transfer. Free and mixed grids: ``phi`` from the padded Green's-function
solve (deconvolution divides the padded kernel spectrum by ``W^2`` of the padded grid),
finite-difference gradient in real space.

**Defaults** ``window="tsc"``, ``kernel="fd4"`` (periodic) / ``"zeta"`` (free),
``gradient="fd4"``, ``deconvolve=False``. Measured against an Ewald sum (periodic) and direct
summation (isolated) for a point mass on ``32^3`` cells, every direction, the relative pair-force
error is rms 0.2-0.4 % (max 1.2 % periodic, 2.6 % isolated) at 4-12 cells and rms 4.3 % at 2-4
cells (``docs/poisson.md``). The 4th-order Laplacian inverse and gradient damp the aliases of a
point mass near Nyquist; the spectral ``i k`` gradient and ``1/W^2`` deconvolution amplify
them (rms errors 5-900 % at 4-12 cells without a split), so use those only with a ``split``
(TreePM long-range force) or the ``optimal`` kernel.

``split=r_s`` filters the Green's function with ``exp(-k^2 r_s^2)`` (periodic) or samples the
long-range Green's function ``-erf(r/2 r_s)/(4 pi r)`` (free, kernels ``zeta``/``chat2``): the
mesh part of a TreePM/P3M split. The short-range complement a tree or direct sum must add is,
for a source of mass ``m``,
``a_short(r) = -G m r_hat / r^2 [erfc(r / 2 r_s) + (r / (r_s sqrt(pi))) exp(-r^2 / 4 r_s^2)]``
(Gadget uses ``r_s = 1.25 h`` with TSC or CIC and ``deconvolve=True``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import fft
from ._compat import api
from .assign import deposit, interpolate
from .kernels import differencing_symbols, get_window, window_transfer
from .parallel import dfft, halo
from .parallel.collective import agreed, any_rank
from .parallel.layout import as_decomposition
from .poisson import PoissonSolver

__all__ = ["ParticleMesh", "accelerations", "mesh_accelerations", "DEFAULTS"]

#: The default PM settings (``kernel=None`` means ``"fd4"`` on periodic, ``"zeta"`` on free grids).
DEFAULTS = {"window": "tsc", "kernel": None, "gradient": "fd4", "deconvolve": False,
            "interlace": False, "split": None}
_GRADIENTS = ("spectral", "fd2", "fd4")
_SPLIT_FREE_KERNELS = ("zeta", "chat2")


def pitfalls(kernel, deconvolve, split, window="tsc", gradient="fd4") -> list:
    """Valid PM settings that give poor pair forces (measured against an Ewald sum on ``32^3``
    cells, ``docs/poisson.md``): one line each, warned by :class:`ParticleMesh` and noted by
    ``fieldsolve validate`` and the run's log. Both sharpen the force toward a point mass's, which
    only pays with a split (the short range then comes from a tree or direct sum)."""
    out = []
    if split is None and deconvolve:
        out.append("deconvolve=True without a split amplifies the aliases of point masses (measured "
                   "rms pair-force errors 17-960 % at 4-12 cells); set a split, or keep the defaults")
    if split is None and kernel == "optimal" and not (window == "ngp" and gradient == "spectral"):
        # (NGP with the i k gradient is the one pairing measured better than plain -1/k^2)
        out.append("kernel 'optimal' without a split minimises the force error against a point mass, "
                   "which separations under a cell dominate: at 4-12 cells it is worse than the plain "
                   "Green's function with the same window and gradient (TSC: measured rms 20-80 % "
                   "against 0.5-12 %); set a split, or keep the defaults")
    return out


class ParticleMesh:
    """A PM force calculation on one grid: settings checked once, Green's function cached.

    Parameters
    ----------
    grid : Grid (periodic, free or mixed), cell-centred; or a
        :class:`fieldsolve.parallel.Decomposition` of one: then meshes are this rank's slabs
        (:meth:`solve` takes and returns them) and :meth:`paint`/:meth:`readout` take this
        rank's particles (:mod:`fieldsolve.parallel.particles`).
    window : assignment window for paint and readout (``"ngp" | "cic" | "tsc" | "pcs"``; the
        older name ``scheme=`` works).
    kernel : Green's function name (:class:`fieldsolve.PoissonSolver`); default ``"fd4"`` on
        periodic grids, ``"zeta"`` on free or mixed ones. ``"optimal"`` builds the
        Hockney-Eastwood influence function for *this* window, gradient, interlacing and split.
    gradient : ``"fd4"`` (4-point, default), ``"fd2"`` or ``"spectral"`` (``i k``, periodic
        grids only).
    deconvolve : divide the Green's function by ``W(k)^2`` (on the padded grid for free axes;
        not with ``optimal``, which has it built in). Use it with a ``split``.
    interlace : paint and read out twice, the second time shifted by ``h/2`` on every axis,
        which cancels the odd alias images (periodic grids only).
    split : Gaussian long/short split radius ``r_s`` in length units (the grid's); the mesh
        then gives the long-range force only (see the module doc for the short-range part).
    **kernel_options : further kernel options (e.g. ``alias=`` of ``optimal``, ``L=`` of ``vgf``).

    Raises ``ValueError`` with a one-line reason for any combination that cannot work.
    """

    @api(renamed={"scheme": "window"})
    def __init__(self, grid, *, window=DEFAULTS["window"], kernel=DEFAULTS["kernel"],
                 gradient=DEFAULTS["gradient"], deconvolve=DEFAULTS["deconvolve"],
                 interlace=DEFAULTS["interlace"], split=DEFAULTS["split"], **kernel_options):
        #: the decomposition (serial: one rank holding the whole mesh)
        self.decomposition = as_decomposition(grid)
        self.grid = grid = self.decomposition.grid
        self.window = get_window(window)
        if gradient not in _GRADIENTS:
            raise ValueError(f"gradient={gradient!r}; choose one of {_GRADIENTS}")
        periodic = grid.all_periodic
        if gradient == "spectral" and not periodic:
            raise ValueError("gradient='spectral' needs every axis periodic (a free-space potential "
                             "is not periodic); use 'fd4' or 'fd2'")
        self.gradient = gradient
        self.deconvolve = bool(deconvolve)
        self.interlace = bool(interlace)
        if self.interlace and not periodic:
            raise ValueError("interlace=True needs every axis periodic")
        if split is not None:
            try:
                ok = math.isfinite(float(split)) and float(split) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"split={split!r} must be a length > 0 (or None for no split)")
            split = float(split)
        self.split = split
        if kernel is None:
            kernel = "fd4" if periodic else "zeta"
        if not isinstance(kernel, str):
            raise ValueError("kernel must be a kernel name; a prebuilt solver goes in solver=")
        kernel = kernel.lower()
        opts = dict(kernel_options)
        if kernel == "optimal":
            taken = sorted({"window", "gradient", "differencing", "interlace", "split"} & set(opts))
            if taken:
                raise ValueError(f"kernel 'optimal' takes {', '.join(taken)} from this PM's "
                                 "window/gradient/interlace/split settings; do not pass them again")
            if self.deconvolve:
                raise ValueError("kernel 'optimal' has the window deconvolution built in; "
                                 "use deconvolve=False")
            opts.update(window=self.window.name, gradient=gradient, interlace=self.interlace)
        if split is not None:
            if not periodic and kernel not in _SPLIT_FREE_KERNELS:
                raise ValueError(f"split on a free grid needs kernel {' or '.join(_SPLIT_FREE_KERNELS)}, "
                                 f"not {kernel!r}")
            opts["split"] = split
        if self.deconvolve:
            window = self.window
            opts["transfer_factor"] = lambda padded: window_transfer(padded, window) ** -2.0
        # a split mesh gets the distributed solver (fieldsolve.parallel.poisson)
        self.solver = PoissonSolver(self.decomposition if self.decomposition.split else grid, kernel,
                                    warn_mean=False, **opts)
        for message in pitfalls(kernel, self.deconvolve, split, self.window.name, gradient):
            warnings.warn(message, RuntimeWarning, stacklevel=3)  # the caller, past the @api wrapper
        self._diff = None

    @property
    def kernel(self):
        return self.solver.kernel

    def __repr__(self):
        return (f"ParticleMesh({self.grid!r}, window={self.window.name!r}, kernel={self.kernel.name!r}, "
                f"gradient={self.gradient!r}, deconvolve={self.deconvolve}, "
                f"interlace={self.interlace}, split={self.split})")

    # -- paint / readout ---------------------------------------------------------------------
    def paint(self, positions, weights=None, *, density=True):
        """Deposit ``weights`` (default 1) at ``positions`` with this PM's window, interlaced if
        set; a density (per cell volume) by default. On several ranks: this rank's particles
        (already on their owner rank) into this rank's slab."""
        if self.decomposition.size > 1:
            from .parallel import particles

            return particles.deposit(self.decomposition, positions, weights, window=self.window,
                                     density=density, interlace=self.interlace)
        return deposit(self.grid, positions, weights, self.window, density=density,
                       interlace=self.interlace)

    def readout(self, field, positions):
        """Read a mesh field (``grid.shape`` or ``(C, *grid.shape)``) at ``positions``: the
        exact adjoint of :meth:`paint` (interlaced when the paint is). On several ranks: this
        rank's slab of the field at this rank's particles."""
        if self.decomposition.size > 1:
            from .parallel import particles

            return particles.interpolate(self.decomposition, field, positions, window=self.window,
                                         interlace=self.interlace)
        return interpolate(self.grid, field, positions, self.window, interlace=self.interlace)

    # -- mesh solve ---------------------------------------------------------------------------
    def _periodic_operators(self):
        """The Green's function and gradient symbols on this rank's Fourier block (serial: the
        whole layout)."""
        if self._diff is None:
            self._diff = differencing_symbols(self.decomposition.block, self.gradient)
        return self.solver.transfer(), self._diff

    def solve(self, rho, coupling=1.0, *, potential=True):
        """``(phi, E)`` on the mesh for ``lap(phi) = coupling * rho``, ``E = -grad(phi)`` of shape
        ``(ndim, *grid.shape)``; ``phi`` is None with ``potential=False``. Periodic grids drop
        the mean of ``rho`` (neutralising background). On a decomposed grid ``rho``, ``phi``
        and ``E`` are this rank's slabs (``(ndim, *local_shape)`` for ``E``; a periodic split
        mesh's ``E`` lies inside an array with room for the readout's ghost planes, so each
        component is contiguous but ``E`` as a whole is not)."""
        grid, dec = self.grid, self.decomposition
        rho = agreed(dec, _check_rho, rho, dec.local_shape)
        if not grid.all_periodic:
            phi = self.solver.solve(coupling * rho)
            return (phi if potential else None), -self.solver.gradient(phi, self.gradient)
        green, diff = self._periodic_operators()
        X = dfft.rfftn(dec, rho)
        origin = dec.block.holds_origin  # the k = 0 mode (the sum) is on one rank
        if any_rank(dec, origin and not np.isfinite(X.flat[0])):
            raise ValueError("rho contains NaN or infinite values")
        X *= coupling
        if origin:
            X.flat[0] = 0.0
        fft.multiply_real(X, green)
        dtype = np.float32 if rho.dtype == np.float32 else np.float64
        # on a split mesh E lies inside room for the ghost planes of a readout, which fills them
        # in place instead of copying E (fieldsolve.parallel.halo.with_room)
        g = 0 if self.interlace else self.window.order // 2
        out = halo.with_room(dec, (grid.ndim,), g, g, dtype, empty=dfft.empty)
        # E = -grad(phi): -i D phi_hat (X destroyed when phi is not wanted: less memory)
        field = dfft.irfftn_each(dec, X, diff, -1j, dtype, out=out, overwrite_input=not potential)
        phi = dfft.irfftn(dec, X, overwrite_input=True) if potential else None
        return phi, field

    # -- the force -------------------------------------------------------------------------------
    def accelerations(self, positions, masses, *, G=1.0, targets=None):
        """Gravitational accelerations ``-grad(phi)``, ``lap(phi) = 4 pi G rho``, at ``targets``
        (default: the particles), shape ``(M, ndim)``."""
        rho = self.paint(positions, masses)
        _, field = self.solve(rho, 4 * np.pi * G, potential=False)
        return self.readout(field, positions if targets is None else targets)


def accelerations(grid, positions, masses, *, G=1.0, targets=None, solver=None, **settings):
    """PM accelerations ``a = -grad(phi)``, ``lap(phi) = 4 pi G rho``, at particle positions.

    Parameters
    ----------
    grid : Grid (periodic, free or mixed).
    positions : (N, ndim) particle positions; masses : (N,) or scalar.
    G : gravitational constant.
    targets : (M, ndim) evaluation points (default: the particles themselves); particles of
        zero mass are convenient test particles.
    solver : a :class:`ParticleMesh` to reuse (its cached Green's function); then no settings.
    **settings : :class:`ParticleMesh` settings -- ``window="tsc"``, ``kernel`` (``"fd4"``
        periodic / ``"zeta"`` free), ``gradient="fd4"``, ``deconvolve=False``,
        ``interlace=False``, ``split=None`` and kernel options. The defaults give pair forces
        within rms 0.4 % of Ewald / Newton at 4-12 cells (module doc).

    Returns
    -------
    (M, ndim) float64 accelerations.
    """
    pm = _particle_mesh(grid, solver, settings)
    return pm.accelerations(positions, masses, G=G, targets=targets)


def mesh_accelerations(grid, rho, *, G=1.0, solver=None, **settings):
    """Acceleration field ``-grad(phi)``, ``lap(phi) = 4 pi G rho``, on the mesh, shape
    ``(ndim, *grid.shape)`` (settings as :func:`accelerations`)."""
    pm = _particle_mesh(grid, solver, settings)
    return pm.solve(rho, 4 * np.pi * G, potential=False)[1]


def _particle_mesh(grid, solver, settings):
    if solver is None:
        return ParticleMesh(grid, **settings)
    if not isinstance(solver, ParticleMesh):
        raise ValueError(f"solver= takes a fieldsolve.pm.ParticleMesh (built once with the PM settings), "
                         f"got {type(solver).__name__}")
    if settings:
        raise ValueError(f"pass either solver= or settings ({', '.join(sorted(settings))}), not both")
    if solver.grid != as_decomposition(grid).grid:
        raise ValueError("solver.grid differs from grid")
    return solver


def _check_rho(rho, shape):
    rho = np.asarray(rho)
    if rho.shape != shape:
        raise ValueError(f"rho has shape {rho.shape}; the grid has shape {shape}")
    return rho
