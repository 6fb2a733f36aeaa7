"""Initial conditions for particle runs.

Every generator returns a dict of particle arrays: ``position`` (N, ndim), ``velocity``
(N, ndim), ``mass`` (N,) (macro-particle mass) and, for plasma species, ``charge`` (N,) and
``weighting`` (N,) (physical particles per macro-particle). All randomness comes from the
``numpy.random.Generator`` passed in, so a run is reproducible from its seed.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

__all__ = ["plummer_sphere", "uniform_sphere", "zeldovich_plane_wave", "particles_from_hdf5",
           "load_species", "van_der_corput", "plummer_lagrangian_radius"]


def _isotropic(rng, n):
    """Unit vectors uniform on the sphere."""
    z = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def plummer_lagrangian_radius(fraction, scale_radius=1.0):
    """Radius enclosing ``fraction`` of the mass of a Plummer sphere: a / sqrt(f^(-2/3) - 1)."""
    f = np.asarray(fraction, dtype=float)
    return scale_radius / np.sqrt(f ** (-2.0 / 3.0) - 1.0)


def plummer_sphere(rng, n, *, total_mass=1.0, scale_radius=1.0, G=1.0, r_max=10.0, center=(0, 0, 0)):
    """Plummer sphere in equilibrium (Aarseth, Henon & Wielen 1974 sampling).

    Radii from the cumulative mass ``M(r)/M = r^3 / (r^2 + a^2)^(3/2)``; speeds ``v = q v_esc(r)``
    with ``q`` drawn from ``q^2 (1 - q^2)^(7/2)`` by rejection; isotropic directions.
    ``r_max`` (in units of ``a``) truncates the model so that an isolated box can hold it:
    particles are drawn only on orbits that stay inside ``r_max`` (radius < r_max and energy
    below the potential at r_max), i.e. the Plummer distribution function lowered to zero at
    ``E = Phi(r_max)``. The centre of mass is put at ``center`` at rest.
    """
    a, M = float(scale_radius), float(total_mass)
    rmax = float(r_max) * a
    phi_max = -G * M / math.sqrt(rmax ** 2 + a ** 2)
    xmax = rmax ** 3 / (rmax ** 2 + a ** 2) ** 1.5
    pos = np.empty((0, 3))
    vel = np.empty((0, 3))
    while pos.shape[0] < n:
        m = max(2 * (n - pos.shape[0]), 64)
        X = rng.uniform(0.0, xmax, m)
        r = a / np.sqrt(X ** (-2.0 / 3.0) - 1.0)
        # speed fraction q of the local escape speed, by rejection from g(q) = q^2 (1-q^2)^3.5
        q = np.empty(m)
        todo = np.arange(m)
        while todo.size:
            qq = rng.uniform(0.0, 1.0, todo.size)
            yy = rng.uniform(0.0, 0.1, todo.size)
            ok = yy < qq ** 2 * (1.0 - qq ** 2) ** 3.5
            q[todo[ok]] = qq[ok]
            todo = todo[~ok]
        phi = -G * M / np.sqrt(r * r + a * a)
        v = q * np.sqrt(-2.0 * phi)
        keep = (0.5 * v * v + phi) < phi_max  # bound inside r_max
        r, v = r[keep], v[keep]
        pos = np.concatenate([pos, r[:, None] * _isotropic(rng, r.size)])
        vel = np.concatenate([vel, v[:, None] * _isotropic(rng, v.size)])
    pos, vel = pos[:n], vel[:n]
    pos -= pos.mean(axis=0)
    vel -= vel.mean(axis=0)
    return {"position": pos + np.asarray(center, dtype=float), "velocity": vel,
            "mass": np.full(n, M / n)}


def uniform_sphere(rng, n, *, total_mass=1.0, radius=1.0, G=1.0, virial_ratio=0.0, center=(0, 0, 0)):
    """Uniform-density sphere; isotropic Gaussian velocities with ``2K/|W| = virial_ratio``
    (``W = -3 G M^2 / (5 R)``); 0 gives the cold collapse (free-fall time
    ``t_ff = (pi/2) sqrt(R^3 / (2 G M))``)."""
    r = radius * rng.uniform(0.0, 1.0, n) ** (1.0 / 3.0)
    pos = r[:, None] * _isotropic(rng, n)
    sigma = math.sqrt(virial_ratio * G * total_mass / (5.0 * radius))
    vel = rng.normal(0.0, 1.0, (n, 3)) * sigma if sigma > 0 else np.zeros((n, 3))
    pos -= pos.mean(axis=0)
    vel -= vel.mean(axis=0)
    return {"position": pos + np.asarray(center, dtype=float), "velocity": vel,
            "mass": np.full(n, total_mass / n)}


def zeldovich_plane_wave(grid, particles_per_axis, *, amplitude, mode=1, axis=0, mean_density=1.0):
    """Regular lattice ``q`` displaced by one planar sine wave, at rest:
    ``x_axis = q_axis + A sin(k (q_axis - origin))``, ``k = 2 pi mode / L_axis``.

    With a static background whose mean is removed (``lap phi = 4 pi G (rho - mean)``), the
    displacement grows as ``A cosh(t / tau)``, ``tau = (4 pi G mean_density)^(-1/2)``, exactly
    (planar symmetry, Gauss's law) until shell crossing at ``A k cosh(t/tau) = 1``.
    """
    axes = [grid.origin[a] + (np.arange(n) + 0.5) * grid.box[a] / n for a, n in enumerate(particles_per_axis)]
    q = np.stack([c.ravel() for c in np.meshgrid(*axes, indexing="ij")], axis=1)
    k = 2 * np.pi * mode / grid.box[axis]
    x = q.copy()
    x[:, axis] += amplitude * np.sin(k * (q[:, axis] - grid.origin[axis]))
    n = q.shape[0]
    return {"position": x, "velocity": np.zeros_like(x), "mass": np.full(n, mean_density * grid.volume / n),
            "lagrangian": q}


def particles_from_hdf5(path, ndim, species=None, iteration=None):
    """Particles from a fieldsolve/openPMD file or a plain HDF5 file with datasets
    ``position`` (N, ndim), ``velocity`` (N, ndim) and ``mass`` ((N,) or scalar)."""
    import h5py

    from .openpmd import read_particles

    with h5py.File(path, "r") as f:
        openpmd = "openPMD" in f.attrs
        if not openpmd:
            missing = [k for k in ("position", "velocity", "mass") if k not in f]
            if missing:
                raise ValueError(f"{path}: not an openPMD file and datasets {missing} are missing "
                                 "(need position, velocity, mass)")
            x = np.asarray(f["position"][()], dtype=np.float64)
            v = np.asarray(f["velocity"][()], dtype=np.float64)
            m = np.asarray(f["mass"][()], dtype=np.float64)
    if openpmd:
        p = read_particles(path, species=species, iteration=iteration)
        x, v = p["position"], p["velocity"]
        if v is None:
            v = np.zeros_like(x)
        m = p.get("mass")
        if m is None:
            raise ValueError(f"{path}: species {p['species']!r} has no mass record")
        if "weighting" in p:
            m = m * p["weighting"]
    x = x.reshape(x.shape[0], -1)
    v = v.reshape(v.shape[0], -1)
    if x.shape[1] != ndim or v.shape != x.shape:
        raise ValueError(f"{path}: positions have shape {x.shape} and velocities {v.shape}; "
                         f"expected (N, {ndim}) for the {ndim}-D grid")
    m = np.broadcast_to(m, (x.shape[0],)).astype(np.float64).copy()
    if not (np.isfinite(x).all() and np.isfinite(v).all() and np.isfinite(m).all()):
        raise ValueError(f"{path}: particle data contain NaN or infinite values")
    return {"position": x, "velocity": v, "mass": m}


# --------------------------------------------------------------------------------------------
# plasma species
# --------------------------------------------------------------------------------------------
def van_der_corput(i, base=2):
    """Radical inverse of the integers ``i`` in ``base`` (the van der Corput sequence)."""
    i = np.asarray(i, dtype=np.int64).copy()
    out = np.zeros(i.shape, dtype=np.float64)
    f = 1.0 / base
    while np.any(i > 0):
        out += f * (i % base)
        i //= base
        f /= base
    return out


_PRIMES = (2, 3, 5, 7, 11, 13)


def _quiet_uniforms(n, base):
    """The centred quantiles ``(j + 1/2)/n``, handed out in van der Corput order (particle ``i``
    gets the rank of ``vdc(i)`` among the first ``n`` points). For ``n`` a power of ``base`` this
    is the classic bit-reversed set; for any other ``n`` it stays exactly symmetric about 1/2,
    which the first ``n`` van der Corput points alone are not (their inverse-normal velocities
    then carry a net drift: -1.3e-4 v_th for n = 100000)."""
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(van_der_corput(np.arange(n), base), kind="stable")] = np.arange(n)
    return (rank + 0.5) / n


def load_species(rng, grid, sp, id_offset=0):
    """Load one plasma species (a ``config.Species``) on a periodic grid.

    quiet: a Hammersley set. Axis-0 positions at (i + 1/2) L/N; the other position axes and
    the velocity quantiles from van der Corput sequences in distinct prime bases (velocities
    base 2, 3, 5 for axes 0, 1, 2: in 1-D the classic bit-reversed quiet start), mapped through
    the inverse normal CDF. (A lattice of N_x positions x N_v cold beams was tried and rejected:
    it is noise-free at t = 0 but the multi-beam instability grows out of it by t ~ 8.) random: pseudo-random positions and normal velocities. A perturbation displaces
    particles by ``-(alpha/|k|) k_hat sin(k.(x - origin))`` giving ``n = n0 (1 + alpha cos k.x)``
    to first order.
    """
    nd, n = grid.ndim, sp.n_particles
    L = np.array(grid.box)
    org = np.array(grid.origin)
    vth = np.array(list(sp.v_th) * nd if len(sp.v_th) == 1 else sp.v_th, dtype=float)
    drift = np.zeros(nd)
    drift[: len(sp.drift)] = sp.drift
    if sp.loading == "quiet":
        u = np.empty((n, nd))
        u[:, 0] = (np.arange(n) + 0.5) / n
        for a in range(1, nd):
            u[:, a] = _quiet_uniforms(n, _PRIMES[3 + a - 1])
        x = org + u * L
        w = np.stack([_quiet_uniforms(n, _PRIMES[a]) for a in range(nd)], axis=1)
        v = drift + vth * ndtri(w)
    else:
        x = org + rng.uniform(0.0, 1.0, (n, nd)) * L
        v = drift + vth * rng.normal(0.0, 1.0, (n, nd))
    if sp.perturbation is not None and sp.perturbation.amplitude != 0:
        mode = np.zeros(nd)
        mode[: len(sp.perturbation.mode)] = sp.perturbation.mode
        k = 2 * np.pi * mode / L
        kn = np.linalg.norm(k)
        phase = (x - org) @ k
        x = x - (sp.perturbation.amplitude / kn) * np.outer(np.sin(phase), k / kn)
    x = org + np.mod(x - org, L)
    weight = sp.density * grid.volume / n
    return {"position": x, "velocity": v, "mass": np.full(n, sp.mass * weight),
            "charge": np.full(n, sp.charge * weight), "weighting": np.full(n, weight),
            "id": np.arange(id_offset, id_offset + n, dtype=np.uint64)}
