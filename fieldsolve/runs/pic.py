"""``pic`` runs: electrostatic PIC, ``lap(phi) = -rho / eps0`` with the species' charge density
(and a uniform neutralising background), ``E = -grad(phi)``, acceleration ``(q/m) E``; the
field energy of one Fourier mode is followed for damping and growth rates."""
from __future__ import annotations

import numpy as np

from .. import openpmd
from ..config import ConfigError

__all__ = ["Model", "initial_particles"]


class Model:
    """Electrostatic PIC: ``lap(phi) = -rho / eps0`` (with a neutralising background),
    ``E = -grad(phi)``, acceleration ``(q/m) E``."""

    energy_name = "field_energy"

    def __init__(self, cfg, decomp):
        """``decomp``: a :class:`~fieldsolve.parallel.Decomposition` (or a grid: serial)."""
        from ..parallel.layout import as_decomposition

        decomp = as_decomposition(decomp)
        grid = decomp.grid
        self.decomp, self.grid = decomp, grid
        self.pm = cfg.solver.particle_mesh(decomp)
        self.eps0 = cfg.units.epsilon0
        self.neutralize = cfg.background == "neutralizing"
        self.meshes = {}
        # the Fourier mode followed by `mode_energy` (the first perturbed mode, else mode 1 on axis 0)
        nd = grid.ndim
        mode = [1] + [0] * (nd - 1)
        for sp in cfg.species:
            if sp.perturbation is not None:
                mode = (list(sp.perturbation.mode) + [0] * nd)[:nd]
                break
        self.mode = tuple(int(m) for m in mode)

    def accelerations(self, x, p):
        """Accelerations of this rank's particles and the total field energy; the meshes (this
        rank's slabs) are kept for output, the followed mode's energy and amplitude are global."""
        from ..parallel.collective import allmean, allsum

        dec, grid = self.decomp, self.grid
        rho = self.pm.paint(x, p["charge"])
        if self.neutralize:
            rho -= allmean(dec, rho)  # the global mean
        phi, E = self.pm.solve(rho, -1.0 / self.eps0)
        self.meshes = {"density": rho, "potential": phi, "field": E}
        acc = self.pm.readout(E, x) * p["qm"][:, None]
        energy = 0.5 * self.eps0 * allsum(dec, float(np.vdot(E, E))) * grid.cell_volume  # no mesh temporary
        # energy in the +-k pair of the followed mode: eps0 V |E_k|^2 / N^2 (Parseval)
        Ek = _mode(E, self.mode, dec)
        self.mode_energy = float(self.eps0 * grid.volume * np.sum(np.abs(Ek) ** 2) / grid.size ** 2)
        # complex amplitude of E.k_hat in that mode: E(x) = Re[a exp(i k.x)] + other modes
        kh = np.array(self.mode, dtype=float) / np.array(grid.box)
        kh /= np.linalg.norm(kh)
        a = 2.0 * complex(np.dot(kh, Ek)) / grid.size
        self.mode_amplitude = (a.real, a.imag)
        return acc, energy

    def mesh_units(self, units):
        L, T, M, Q = units["length"], units["time"], units["mass"], units["charge"]
        return {"density": ("rho", openpmd.UNIT_DIMENSION["charge_density"], Q / L ** 3),
                "potential": ("phi", openpmd.UNIT_DIMENSION["electric_potential"], M * L ** 2 / (T ** 2 * Q)),
                "field": ("E", openpmd.UNIT_DIMENSION["electric_field"], M * L / (T ** 2 * Q))}


def _mode(E, mode, dec):
    """``E_k = sum_j E(x_j) exp(-2 pi i m.j / N)`` (the DFT's one mode ``m``) of the vector
    field ``E`` (components first) from this rank's slab, summed over the ranks: O(N), no FFT."""
    from ..parallel.collective import allsum

    t = E
    for ax in range(dec.grid.ndim - 1, -1, -1):  # contract the last axis each time
        n = dec.grid.shape[ax]
        j = np.arange(dec.start, dec.stop) if ax == 0 else np.arange(n)
        t = t @ np.exp(-2j * np.pi * ((mode[ax] * j) % n) / n)
    s = allsum(dec, np.concatenate([t.real, t.imag]))
    return s[:len(s) // 2] + 1j * s[len(s) // 2:]


def initial_particles(cfg, grid, rng, inputs):
    """Particle arrays (with ``qm = q/m``) and the species table ``[(name, start, stop)]``."""
    from .. import ic

    parts, species, off = [], [], 0
    for i, sp in enumerate(cfg.species):
        try:
            d = ic.load_species(rng, grid, sp, id_offset=off)
        except ValueError as exc:
            raise ConfigError(f"species.{i}.{exc}") from None
        d["qm"] = np.full(sp.n_particles, sp.charge / sp.mass)
        parts.append(d)
        species.append((sp.name, off, off + sp.n_particles))
        off += sp.n_particles
    p = {k: np.concatenate([d[k] for d in parts]) for k in ("position", "velocity", "mass", "charge",
                                                            "weighting", "id", "qm")}
    return p, species
