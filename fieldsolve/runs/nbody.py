"""``nbody`` runs: PM gravity (:class:`fieldsolve.pm.ParticleMesh`, settings from ``solver``),
``lap(phi) = 4 pi G rho`` (the mean removed on periodic grids: Jeans swindle), ``g = -grad(phi)``,
and the initial particles (Plummer, uniform sphere, Zel'dovich plane wave, HDF5 file)."""
from __future__ import annotations

import numpy as np

from .. import openpmd

__all__ = ["Model", "initial_particles"]


class Model:
    """PM gravity: ``lap(phi) = 4 pi G rho`` (mean removed on periodic grids), ``g = -grad(phi)``."""

    energy_name = "potential_energy"

    def __init__(self, cfg, decomp):
        """``decomp``: a :class:`~fieldsolve.parallel.Decomposition` (or a grid: serial)."""
        from ..parallel.layout import as_decomposition

        decomp = as_decomposition(decomp)
        self.decomp, self.grid = decomp, decomp.grid
        self.pm = cfg.solver.particle_mesh(decomp)
        self.G = cfg.units.G
        self.meshes = {}

    def accelerations(self, x, p):
        """Accelerations of this rank's particles and the total potential energy; the meshes
        (this rank's slabs) are kept for output."""
        from ..parallel.collective import allsum

        rho = self.pm.paint(x, p["mass"])
        phi, g = self.pm.solve(rho, 4 * np.pi * self.G)
        self.meshes = {"density": rho, "potential": phi, "field": g}
        # W = 1/2 sum_i m_i phi(x_i) = 1/2 sum_cells rho phi dV (readout is the adjoint of paint)
        energy = 0.5 * allsum(self.decomp, float(np.vdot(rho, phi))) * self.grid.cell_volume
        return self.pm.readout(g, x), energy

    def mesh_units(self, units):
        L, T, M = units["length"], units["time"], units["mass"]
        return {"density": ("rho", openpmd.UNIT_DIMENSION["mass_density"], M / L ** 3),
                "potential": ("phi", openpmd.UNIT_DIMENSION["grav_potential"], (L / T) ** 2),
                "field": ("g", openpmd.UNIT_DIMENSION["acceleration"], L / T ** 2)}


def initial_particles(cfg, grid, rng, inputs):
    """Particle arrays and the species table ``[("dm", 0, n)]`` for ``cfg.initial``."""
    from .. import ic

    icfg = cfg.initial
    G = cfg.units.G
    center = icfg.center if getattr(icfg, "center", None) is not None else None
    if center is None:
        center = [o + b / 2 for o, b in zip(grid.origin, grid.box)]
    if icfg.kind == "plummer":
        p = ic.plummer_sphere(rng, icfg.n_particles, total_mass=icfg.total_mass,
                              scale_radius=icfg.scale_radius, G=G, r_max=icfg.r_max, center=center)
    elif icfg.kind == "uniform_sphere":
        p = ic.uniform_sphere(rng, icfg.n_particles, total_mass=icfg.total_mass, radius=icfg.radius, G=G,
                              virial_ratio=icfg.virial_ratio, center=center)
    elif icfg.kind == "zeldovich":
        p = ic.zeldovich_plane_wave(grid, icfg.particles_per_axis, amplitude=icfg.amplitude,
                                    mode=icfg.mode, axis=icfg.axis, mean_density=icfg.mean_density)
        p.pop("lagrangian")
    else:  # read and checked before the run started (fieldsolve.inputs)
        p = inputs["particles"]
    n = p["position"].shape[0]
    p["id"] = np.arange(n, dtype=np.uint64)
    return p, [("dm", 0, n)]
