"""Config-driven runs: ``fieldsolve.run(config, out=...)`` (the CLI calls the same function).

Particle runs (``nbody``, ``pic``) integrate with kick-drift-kick leapfrog; the forces come from
the library's one PM path, :class:`fieldsolve.pm.ParticleMesh` (settings from ``solver``):

    ParticleMesh.paint(x, weights)  ->  .solve(rho, coupling)  ->  .readout(-grad phi, x)
    ->  kick / drift

Gravity: ``lap phi = 4 pi G (rho - mean)`` on periodic grids (the mean is removed, Jeans swindle),
``lap phi = 4 pi G rho`` on isolated ones; acceleration ``g = -grad phi``.
Electrostatics: ``lap phi = -rho / eps0`` with ``rho`` the species' charge density plus a uniform
neutralising background; acceleration ``(q/m) E`` with ``E = -grad phi``.

Run directory (``--out``)::

    config.yaml  config.resolved.yaml  provenance.json  log.txt  timeseries.h5
    diags/fields/fs_%06d.h5 + fields.pmd   checkpoints/chk_%06d.h5 + latest   plots/*.png

Every file except the line-buffered ``log.txt`` is written to ``<name>.tmp`` and moved into
place with ``os.replace``. SIGINT/SIGTERM finish the current step, write a checkpoint and the
time series, and return (CLI exit status 130/143); ``resume=True`` continues from
``checkpoints/latest`` and reproduces an uninterrupted run bit for bit (same threads).
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import io as fio
from .config import (ConfigError, config_hash, dump_config, load_config, load_yaml, names_a_file, option,
                     read_config_text)
from .inputs import check_out_dir, preflight
from .resources import effective_threads, estimate_memory  # noqa: F401 - re-exported

__all__ = ["run", "RunResult", "RunError", "estimate_memory"]

log = logging.getLogger("fieldsolve.run")

# keys that may change between a checkpoint and a resumed run
RESUME_MUTABLE = ("time.t_end", "time.steps", "output", "checkpoint", "threads", "resources")
_END_RTOL = 1e-9  # a last step this close (relative to dt) to a whole step is not clipped


class RunError(RuntimeError):
    """A failure during a run (CLI exit status 1); ``log`` is the run's log.txt (with the
    traceback) when the run directory exists."""

    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log


@dataclass
class RunResult:
    """What :func:`run` returns: where things are and the final diagnostics."""
    run_dir: Path
    config: object
    kind: str
    steps: int = 0
    time: float = 0.0
    snapshots: list = field(default_factory=list)
    timeseries: Path | None = None
    checkpoint: Path | None = None
    plots: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    interrupted: str | None = None   # None, "SIGINT", "SIGTERM" or "stop_after"

    def summary(self) -> str:
        lines = [f"fieldsolve {self.kind} run in {self.run_dir}: {self.steps} steps, t = {self.time:.6g}"
                 + (f" (stopped: {self.interrupted})" if self.interrupted else "")]
        for k, v in self.final.items():
            if isinstance(v, (float, int, np.floating, np.integer)):
                lines.append(f"  {k:28s} {float(v): .6e}")
        lines.append(f"  snapshots: {len(self.snapshots)} in {self.run_dir / 'diags' / 'fields'}")
        if self.checkpoint:
            lines.append(f"  checkpoint: {self.checkpoint}")
        if self.plots:
            lines.append(f"  plots: {', '.join(p.name for p in self.plots)}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# provenance, run directory
# --------------------------------------------------------------------------------------------
def _git_describe():
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(cfg, seed_entropy=None) -> dict:
    import h5py
    import scipy

    from . import __version__, fft
    from ._threads import get_num_threads

    return {
        "fieldsolve_version": __version__, "git_describe": _git_describe(),
        "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version, "fft_backend": fft.get_backend(),
        "threads": get_num_threads(), "host": platform.node(), "platform": platform.platform(),
        "date_utc": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime()),
        "command_line": list(sys.argv), "mpi_size": 1,
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
        "seed": cfg.seed, "seed_entropy": seed_entropy, "config_sha256": config_hash(cfg),
    }


def _prepare_dir(out: Path, overwrite: bool):
    """Create the (checked, see :func:`fieldsolve.inputs.check_out_dir`) run directory."""
    check_out_dir(out, overwrite=overwrite)
    try:
        if out.exists() and any(out.iterdir()):
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option('out', out)}: cannot create the run directory "
                          f"({exc.strerror or exc})") from None


def _mutable(key: str) -> bool:
    return any(key == m or key.startswith(m + ".") for m in RESUME_MUTABLE)


def _diff_keys(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


class _LogFile(logging.FileHandler):
    """log.txt: a failed write (disk full, file-size limit) must neither stop the run nor
    print logging's own traceback; the run's real outputs report such failures."""

    def handleError(self, record):
        pass

    def close(self):
        try:
            super().close()
        except OSError:
            pass


class _MessageOnly(logging.Formatter):
    """The echo on stdout: messages only; tracebacks go to log.txt."""

    def format(self, record):
        return record.getMessage()


class _Logging:
    def __init__(self, path: Path, echo: bool):
        self.handlers = [_LogFile(path, mode="a")]
        self.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        if echo:
            h = logging.StreamHandler(sys.stdout)
            h.setFormatter(_MessageOnly())
            self.handlers.append(h)

    def __enter__(self):
        for h in self.handlers:
            log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
        return self

    def __exit__(self, *exc):
        for h in self.handlers:
            log.removeHandler(h)
            h.close()


class _Signals:
    """SIGINT/SIGTERM set a flag; the step loop stops cleanly at the next step boundary."""

    def __init__(self):
        self.caught = None
        self.previous = {}

    def _handler(self, signum, frame):
        self.caught = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, h in self.previous.items():
            signal.signal(s, h)


class _FileSizeLimit:
    """Ignore SIGXFSZ during a run (Python does by default, an embedding program may not), so a
    write past ``ulimit -f`` fails with EFBIG, a WriteError, instead of killing the process."""

    def __enter__(self):
        self.previous = None
        if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGXFSZ, self.previous)


# --------------------------------------------------------------------------------------------
# physics: force models
# --------------------------------------------------------------------------------------------
def _units(cfg):
    u = cfg.units
    return {"length": u.length_si, "time": u.time_si, "velocity": u.length_si / u.time_si,
            "mass": u.mass_si, "charge": getattr(u, "charge_si", 1.0)}


class _Gravity:
    """PM gravity: ``lap(phi) = 4 pi G rho`` (mean removed on periodic grids), ``g = -grad(phi)``."""

    energy_name = "potential_energy"

    def __init__(self, cfg, grid):
        from .pm import ParticleMesh

        self.grid = grid
        self.pm = ParticleMesh(grid, **cfg.solver.pm_settings())
        self.G = cfg.units.G
        self.meshes = {}

    def accelerations(self, x, p):
        rho = self.pm.paint(x, p["mass"])
        phi, g = self.pm.solve(rho, 4 * np.pi * self.G)
        self.meshes = {"density": rho, "potential": phi, "field": g}
        # W = 1/2 sum_i m_i phi(x_i) = 1/2 sum_cells rho phi dV (readout is the adjoint of paint)
        energy = 0.5 * float(np.sum(rho * phi)) * self.grid.cell_volume
        return self.pm.readout(g, x), energy

    def mesh_units(self, units):
        L, T, M = units["length"], units["time"], units["mass"]
        return {"density": ("rho", fio.UNIT_DIMENSION["mass_density"], M / L ** 3),
                "potential": ("phi", fio.UNIT_DIMENSION["grav_potential"], (L / T) ** 2),
                "field": ("g", fio.UNIT_DIMENSION["acceleration"], L / T ** 2)}


class _Electrostatic:
    """Electrostatic PIC: ``lap(phi) = -rho / eps0`` (with a neutralising background),
    ``E = -grad(phi)``, acceleration ``(q/m) E``."""

    energy_name = "field_energy"

    def __init__(self, cfg, grid):
        from .pm import ParticleMesh

        self.grid = grid
        self.pm = ParticleMesh(grid, **cfg.solver.pm_settings())
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
        from . import fft

        rho = self.pm.paint(x, p["charge"])
        if self.neutralize:
            rho -= rho.mean()
        phi, E = self.pm.solve(rho, -1.0 / self.eps0)
        self.meshes = {"density": rho, "potential": phi, "field": E}
        acc = self.pm.readout(E, x) * p["qm"][:, None]
        energy = 0.5 * self.eps0 * float(np.sum(E * E)) * self.grid.cell_volume
        # energy in the +-k pair of the followed mode: eps0 V |E_k|^2 / N^2 (Parseval)
        Ek = fft.rfftn(E, axes=tuple(range(1, self.grid.ndim + 1)))[(slice(None),) + self.mode]
        self.mode_energy = float(self.eps0 * self.grid.volume * np.sum(np.abs(Ek) ** 2) / self.grid.size ** 2)
        # complex amplitude of E.k_hat in that mode: E(x) = Re[a exp(i k.x)] + other modes
        kh = np.array(self.mode, dtype=float) / np.array(self.grid.box)
        kh /= np.linalg.norm(kh)
        a = 2.0 * complex(np.dot(kh, Ek)) / self.grid.size
        self.mode_amplitude = (a.real, a.imag)
        return acc, energy

    def mesh_units(self, units):
        L, T, M, Q = units["length"], units["time"], units["mass"], units["charge"]
        return {"density": ("rho", fio.UNIT_DIMENSION["charge_density"], Q / L ** 3),
                "potential": ("phi", fio.UNIT_DIMENSION["electric_potential"], M * L ** 2 / (T ** 2 * Q)),
                "field": ("E", fio.UNIT_DIMENSION["electric_field"], M * L / (T ** 2 * Q))}


# --------------------------------------------------------------------------------------------
# initial particles
# --------------------------------------------------------------------------------------------
def _initial_particles(cfg, grid, rng, inputs):
    from . import ic

    if cfg.kind == "pic":
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


def _wrap(grid, x):
    for a in range(grid.ndim):
        if grid.periodic[a]:
            o, L = grid.origin[a], grid.box[a]
            x[:, a] = o + np.mod(x[:, a] - o, L)
            x[:, a][x[:, a] >= o + L] = o  # np.mod can round up to L
    return x


# --------------------------------------------------------------------------------------------
# the particle loop
# --------------------------------------------------------------------------------------------
class _ParticleRun:
    def __init__(self, cfg, run_dir: Path, prov: dict, progress):
        self.cfg, self.dir, self.prov = cfg, run_dir, prov
        self.grid = cfg.grid.make()
        self.model = (_Gravity if cfg.kind == "nbody" else _Electrostatic)(cfg, self.grid)
        self.units = _units(cfg)
        self.progress = progress
        self.fields_dir = run_dir / "diags" / "fields"
        self.chk_dir = run_dir / "checkpoints"
        self.cfg_yaml = dump_config(cfg)
        self.prov_json = json.dumps(prov, indent=1, sort_keys=True)
        self.sha = config_hash(cfg)
        self.snapshots = []
        self.checkpoint = None
        self.extend_from = None  # checkpoint taken before a final step that t_end shortened

    # ---- state ----
    def init_state(self, rng_ic, rng_run, inputs):
        self.p, self.species = _initial_particles(self.cfg, self.grid, rng_ic, inputs)
        _wrap(self.grid, self.p["position"])
        self.rng = rng_run
        self.step, self.t = 0, 0.0
        self.ts = {k: [] for k in ("step", "time", "dt", "kinetic_energy", self.model.energy_name,
                                   "total_energy", "momentum")}
        if self.cfg.kind == "pic":
            self.ts["mode_energy"] = []
            self.ts["mode_amplitude"] = []
        self.acc, self.epot = self._forces()
        icfg = getattr(self.cfg, "initial", None)
        if getattr(icfg, "virialize", False) and self.epot < 0:
            v, m = self.p["velocity"], self.p["mass"]
            ke = 0.5 * float(np.sum(m[:, None] * v * v))
            if ke > 0:
                v *= math.sqrt(0.5 * abs(self.epot) / ke)
        self._record(0.0)

    def _forces(self):
        try:
            return self.model.accelerations(self.p["position"], self.p)
        except ValueError as exc:
            if "leave the bounded grid" in str(exc) or "outside" in str(exc):
                raise RunError(f"step {self.step}: a particle left the isolated box ({exc})") from None
            raise

    def _record(self, dt):
        v, m = self.p["velocity"], self.p["mass"]
        ke = 0.5 * float(np.sum(m[:, None] * v * v))
        mom = (m[:, None] * v).sum(axis=0)
        for k, val in (("step", self.step), ("time", self.t), ("dt", dt), ("kinetic_energy", ke),
                       (self.model.energy_name, self.epot), ("total_energy", ke + self.epot), ("momentum", mom)):
            self.ts[k].append(val)
        if "mode_energy" in self.ts:
            self.ts["mode_energy"].append(self.model.mode_energy)
            self.ts["mode_amplitude"].append(self.model.mode_amplitude)

    def checkpoint_state(self):
        state = {k: v for k, v in self.p.items()}
        state["acceleration"] = self.acc
        state["timeseries"] = {k: np.asarray(v) for k, v in self.ts.items()}
        meta = {"step": self.step, "time": self.t, "epot": self.epot, "config_sha256": self.sha,
                "rng_state": self.rng.bit_generator.state, "species": self.species, "kind": self.cfg.kind,
                "config": self.cfg.model_dump(mode="json"), "extend_from": self.extend_from,
                "time_hex": float(self.t).hex(), "epot_hex": float(self.epot).hex()}
        return state, meta

    def restore(self, path, state, meta):
        """Continue from a checkpoint already read and checked (:func:`_read_checkpoint`)."""
        state = dict(state)
        self.checkpoint = path
        self.extend_from = meta.get("extend_from")
        ts = state.pop("timeseries")
        self.acc = state.pop("acceleration")
        self.p = state
        self.species = [tuple(s) for s in meta["species"]]
        self.step = int(meta["step"])
        self.t = float.fromhex(meta["time_hex"])
        self.epot = float.fromhex(meta["epot_hex"])
        self.rng = np.random.Generator(np.random.PCG64())
        self.rng.bit_generator.state = meta["rng_state"]
        self.ts = {k: list(v) for k, v in ts.items()}

    # ---- output ----
    def write_snapshot(self):
        cfg = self.cfg
        meshes = {}
        mu = self.model.mesh_units(self.units)
        for name in cfg.output.fields:
            rec, udim, usi = mu[name]
            meshes[rec] = {"data": self.model.meshes[name], "unit_dimension": udim, "unit_si": usi}
        particles = None
        if cfg.output.particles:
            particles = {}
            for name, a, b in self.species:
                sp = {"position": self.p["position"][a:b], "velocity": self.p["velocity"][a:b],
                      "id": self.p["id"][a:b]}
                if cfg.kind == "pic":
                    w = self.p["weighting"][a:b]
                    sp["weighting"] = w[0] if np.all(w == w[0]) else w
                    sp["mass"] = float(self.p["mass"][a] / w[0])
                    sp["charge"] = float(self.p["charge"][a] / w[0])
                else:
                    m = self.p["mass"][a:b]
                    sp["mass"] = m[0] if m.size and np.all(m == m[0]) else m
                particles[name] = sp
        dt = self.ts["dt"][-1] if self.ts["dt"] else 0.0
        path = fio.write_iteration(self.fields_dir, self.step, time=self.t, dt=dt, grid=self.grid,
                                   meshes=meshes, particles=particles, dtype=cfg.output.dtype, units=self.units,
                                   config_yaml=self.cfg_yaml, provenance_json=self.prov_json,
                                   config_sha=self.sha, software_version=self.prov["fieldsolve_version"])
        if not (self.fields_dir / "fields.pmd").exists():
            fio.write_pmd_index(self.fields_dir)
        if cfg.output.gadget:
            gdir = self.dir / "diags" / "gadget"
            gdir.mkdir(parents=True, exist_ok=True)
            fio.write_gadget(gdir / f"snap_{self.step:06d}.hdf5", self.p["position"], self.p["velocity"], self.p["id"],
                             self.p["mass"], box=max(self.grid.box), time=self.t, origin=self.grid.origin)
        if path not in self.snapshots:
            self.snapshots.append(path)
        self.write_timeseries()

    def write_timeseries(self):
        cols = {k: np.asarray(v, dtype=np.int64 if k == "step" else np.float64) for k, v in self.ts.items()}
        attrs = {}
        if self.cfg.kind == "pic":
            attrs["mode"] = np.array(self.model.mode, dtype=np.int64)
        fio.write_timeseries(self.dir / "timeseries.h5", cols,
                             attrs={**attrs, "kind": self.cfg.kind, "config_sha256": self.sha,
                                    "energy_convention": "kinetic = sum m v^2/2; potential = sum rho phi dV/2 "
                                    "(gravity); field = eps0 sum E^2 dV/2 (pic)"})

    def write_checkpoint(self):
        self.chk_dir.mkdir(parents=True, exist_ok=True)
        state, meta = self.checkpoint_state()
        path = fio.write_checkpoint(self.chk_dir / f"chk_{self.step:06d}.h5", state, meta)
        fio.atomic_write_text(self.chk_dir / "latest", path.name + "\n")
        keep = self.cfg.checkpoint.keep_last
        for f in sorted(self.chk_dir.glob("chk_*.h5"))[:-keep]:
            if f.name != self.extend_from:
                f.unlink()
        self.checkpoint = path
        self.write_timeseries()
        return path

    # ---- integration ----
    def _step(self):
        """``(dt, clipped)``: the next step, and whether ``t_end`` shortened it. A last step
        within a rounding error of a whole step is taken whole, as a longer run would take it."""
        tcfg = self.cfg.time
        dt = tcfg.dt
        if tcfg.cfl is not None:
            vmax = float(np.max(np.abs(self.p["velocity"]))) if self.p["velocity"].size else 0.0
            if vmax > 0:
                dt = min(dt, tcfg.cfl * min(self.grid.spacing) / vmax)
        if tcfg.t_end is not None and tcfg.t_end - self.t < dt * (1 - _END_RTOL):
            return tcfg.t_end - self.t, True
        return dt, False

    def _last(self, dt):
        t_end = self.cfg.time.t_end
        return t_end is not None and t_end - self.t <= dt * (1 + _END_RTOL)

    def _checkpoint_before_clipped_step(self):
        """Extending a finished run resumes here, so it takes the same whole steps as a run
        that was given the longer end from the start (bitwise)."""
        name = f"chk_{self.step:06d}.h5"
        if self.checkpoint is None or self.checkpoint.name != name or not self.checkpoint.exists():
            self.write_checkpoint()
        self.extend_from = name

    def _done(self):
        tcfg = self.cfg.time
        if tcfg.steps is not None:
            return self.step >= tcfg.steps
        return self.t >= tcfg.t_end * (1 - 1e-12)

    def total_steps(self):
        tcfg = self.cfg.time
        if tcfg.steps is not None:
            return tcfg.steps
        if tcfg.cfl is None:
            return int(math.ceil(tcfg.t_end / tcfg.dt - 1e-9))
        return None

    def kdk(self, dt, last=False):
        p = self.p
        p["velocity"] += (0.5 * dt) * self.acc
        p["position"] += dt * p["velocity"]
        _wrap(self.grid, p["position"])
        self.acc, self.epot = self._forces()
        p["velocity"] += (0.5 * dt) * self.acc
        self.step += 1
        tcfg = self.cfg.time
        if last:
            self.t = tcfg.t_end
        elif tcfg.cfl is None:
            self.t = self.step * tcfg.dt
        else:
            self.t = self.t + dt
        self._record(dt)

    def loop(self, signals, stop_after=None):
        from tqdm import tqdm

        ocfg, ccfg = self.cfg.output, self.cfg.checkpoint
        total = self.total_steps()
        bar = tqdm(total=total, initial=self.step, disable=None if self.progress is None else not self.progress,
                   desc=f"fieldsolve {self.cfg.kind}", unit="step", leave=False, dynamic_ncols=True)
        done_here = 0
        interrupted = None
        try:
            while not self._done():
                if not math.isfinite(self.ts["total_energy"][-1]):
                    raise RunError(f"step {self.step}: energy is not finite; the run diverged (reduce time.dt)")
                dt, clipped = self._step()
                if clipped:
                    self._checkpoint_before_clipped_step()
                self.kdk(dt, self._last(dt))
                done_here += 1
                bar.update(1)
                final = self._done()
                if self.step % ocfg.every == 0 or final:
                    self.write_snapshot()
                if ccfg.every is not None and self.step % ccfg.every == 0 and not final:
                    self.write_checkpoint()
                if signals.caught and not final:
                    interrupted = signals.caught
                    break
                if stop_after is not None and done_here >= stop_after and not final:
                    interrupted = "stop_after"
                    break
        finally:
            bar.close()
        return interrupted


def _plots(run_dir, enabled):
    if not enabled:
        return []
    from .plots import make_plots

    try:
        return make_plots(run_dir)
    except Exception as exc:  # plotting must never lose a finished run
        log.warning("plotting failed: %s", exc)
        return []


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def _resolve_seed(cfg):
    if cfg.seed is not None:
        return cfg, None
    entropy = np.random.SeedSequence().entropy
    return cfg.model_copy(update={"seed": int(entropy)}), int(entropy)


@dataclass
class _Plan:
    """Everything a run needs, checked before anything is written."""
    cfg: object
    out: Path
    entropy: int | None = None
    raw_text: str | None = None
    inputs: dict = field(default_factory=dict)
    resume_from: Path | None = None      # checkpoint to continue from
    checkpoint: tuple | None = None      # its (state, meta), already read and checked
    rewind: list = field(default_factory=list)  # outputs after resume_from that an extension replaces


def _plan_new(config, out, overrides, overwrite, force):
    if config is None:
        raise ConfigError("no config given")
    raw_text = None
    if isinstance(config, (str, Path)) and names_a_file(config):
        raw_text = read_config_text(config)  # copied to config.yaml as given
        config = load_yaml(raw_text, source=str(config))
    cfg = load_config(config, overrides)
    cfg, entropy = _resolve_seed(cfg)
    out = Path(out) if out is not None else Path("runs") / (cfg.name or cfg.kind)
    inputs, _, _ = preflight(cfg, out, overwrite=overwrite, force=force)
    return _Plan(cfg, out, entropy, raw_text, inputs)


_STATE_ARRAYS = {"nbody": ("position", "velocity", "acceleration", "mass", "id"),
                 "pic": ("position", "velocity", "acceleration", "mass", "charge", "weighting", "id", "qm")}
_META_KEYS = ("step", "time_hex", "epot_hex", "rng_state", "species", "kind", "config")


def _read_checkpoint(out, name):
    """``(path, state, meta)`` of ``out/checkpoints/name``, checked to hold a complete state."""
    path = out / "checkpoints" / name
    where = f"{option('resume', out)}: checkpoint {name}"
    try:
        state, meta = fio.read_checkpoint(path)
    except fio.ReadError as exc:
        raise ConfigError(f"{where}: {str(exc).removeprefix(f'{path}: ')}") from None
    missing = [k for k in _META_KEYS if k not in meta]
    kind = meta.get("kind")
    missing += [f"state/{k}" for k in _STATE_ARRAYS.get(kind, ()) + ("timeseries",) if k not in state]
    if missing or kind not in _STATE_ARRAYS:
        raise ConfigError(f"{where} is incomplete (missing {', '.join(missing) or 'a known kind'}); "
                          "an older checkpoint in that directory may still be usable")
    n, nd = np.shape(state["position"])[0], np.ndim(state["position"]) == 2 and np.shape(state["position"])[1]
    bad = [k for k in _STATE_ARRAYS[kind] if np.shape(state[k])[:1] != (n,)]
    if not nd or bad or not all(np.isfinite(state[k]).all() for k in ("position", "velocity", "acceleration")):
        raise ConfigError(f"{where} is damaged (inconsistent or non-finite arrays: "
                          f"{', '.join(bad) or 'position/velocity/acceleration'})")
    return path, state, meta


def _end_of(cfg):
    t = cfg.time
    return ("time.steps", t.steps) if t.steps is not None else ("time.t_end", t.t_end)


def _check_end(cfg, meta, out):
    """A resumed run may end later (or where the checkpoint is), never before it."""
    key, end = _end_of(cfg)
    now = int(meta["step"]) if key == "time.steps" else float.fromhex(meta["time_hex"])
    if end < now * (1 - 1e-12):
        raise ConfigError(f"{option('resume', out)}: {key} = {end} is before the checkpoint "
                          f"({'step' if key == 'time.steps' else 't ='} {now:g}); a resumed run can only "
                          "continue or be extended")
    return end > now * (1 + 1e-12)


def _rewound(out, step):
    """Snapshots and checkpoints written after ``step``."""
    def later(p):
        try:
            return int(p.stem.split("_")[-1]) > step
        except ValueError:
            return False

    return [p for d, pat in ((out / "diags" / "fields", "fs_*.h5"), (out / "checkpoints", "chk_*.h5"),
                             (out / "diags" / "gadget", "snap_*.hdf5")) for p in sorted(d.glob(pat)) if later(p)]


def _plan_resume(config, out, overrides, force):
    if out is None:
        raise ConfigError(f"{option('resume')} needs the run directory")
    out = Path(out)
    latest = out / "checkpoints" / "latest"
    if not latest.is_file():
        raise ConfigError(f"{option('resume', out)}: not a run directory with a checkpoint (checkpoints/latest)")
    try:
        name = latest.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{option('resume', out)}: cannot read checkpoints/latest ({exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"{option('resume', out)}: the run directory is not writable")
    path, state, meta = _read_checkpoint(out, name)
    saved = load_config(meta["config"])  # the config the checkpointed state was made with
    if config is None:
        cfg = load_config(meta["config"], overrides)
    else:
        cfg = load_config(config, overrides)
        if cfg.seed is None:
            cfg = cfg.model_copy(update={"seed": saved.seed})
    if cfg.kind != meta["kind"]:
        raise ConfigError(f"{option('resume', out)}: the checkpoint is of a kind={meta['kind']} run; "
                          f"the config has kind={cfg.kind}")
    changed = [k for k in _diff_keys(saved.model_dump(mode="json"), cfg.model_dump(mode="json"))
               if not _mutable(k)]
    if changed:
        raise ConfigError(f"{option('resume', out)}: the config differs from the checkpointed run in "
                          f"{', '.join(changed)}; only {', '.join(RESUME_MUTABLE)} may change")
    plan = _Plan(cfg, out, resume_from=path, checkpoint=(state, meta))
    if _check_end(cfg, meta, out) and meta.get("extend_from"):
        # the run ended with a step shortened to reach t_end: extend from just before it
        path, state, meta = _read_checkpoint(out, meta["extend_from"])
        plan.resume_from, plan.checkpoint = path, (state, meta)
        plan.rewind = _rewound(out, int(meta["step"]))
    preflight(cfg, force=force, n_particles=np.shape(state["position"])[0])
    return plan


def run(config, out=None, *, overrides=(), overwrite=False, resume=False, progress=None,
        stop_after=None, echo=True, force=False):
    """Run a simulation from a config (path, YAML text, dict or model).

    Parameters
    ----------
    out : run directory (default ``runs/<name>``). Must be empty or absent unless ``overwrite``
        (replace a previous run directory) or ``resume`` (continue from its latest checkpoint;
        ``config`` may then be None: the run directory's resolved config is used). Extending a
        finished run (a later ``time.t_end`` or more ``time.steps``) gives the bits of a run
        given the longer end from the start; an end before the checkpoint is refused.
    overrides : ``["section.key=value", ...]`` applied before validation.
    progress : True/False to force the progress bar on/off; None shows it only on a TTY.
    stop_after : stop (with a checkpoint) after this many steps in this call.
    echo : also print log lines to stdout.
    force : run even if the memory estimate exceeds the memory available (or
        ``resources.max_memory``).

    Everything that can be checked (config, input files, kernel and grid, memory, the output
    location) is checked before anything is written. Returns a :class:`RunResult`. Raises
    :class:`ConfigError` for invalid input and :class:`RunError` for failures during the run.
    """
    if resume:
        plan = _plan_resume(config, out, overrides, force)
    else:
        plan = _plan_new(config, out, overrides, overwrite, force)
        _prepare_dir(plan.out, overwrite)

    from ._threads import get_num_threads, set_num_threads

    threads_before = get_num_threads()
    threads, note = effective_threads(plan.cfg)
    if threads is not None:
        set_num_threads(threads)
    try:
        with _FileSizeLimit():
            return _run_in_dir(plan, progress, stop_after, echo, notes=[note] if note else [])
    finally:
        set_num_threads(threads_before)  # the thread count is process-wide: restore it


def _start_dir(plan, prov):
    cfg, out = plan.cfg, plan.out
    if plan.resume_from is None:
        fio.atomic_write_text(out / "config.yaml", plan.raw_text if plan.raw_text is not None else dump_config(cfg))
        fio.atomic_write_text(out / "provenance.json", json.dumps(prov, indent=1, sort_keys=True) + "\n")
    fio.atomic_write_text(out / "config.resolved.yaml", dump_config(cfg))


def _rewind(plan):
    """Point `latest` at the checkpoint an extension starts from, then remove what it replaces."""
    if not plan.rewind:
        return
    fio.atomic_write_text(plan.out / "checkpoints" / "latest", plan.resume_from.name + "\n")
    for p in plan.rewind:
        p.unlink()
    log.info("extending a run whose last step was shortened to reach its end: continuing from %s; "
             "replaced %s", plan.resume_from.name, ", ".join(p.name for p in plan.rewind))


def _run_in_dir(plan, progress, stop_after, echo, notes=()):
    cfg, out = plan.cfg, plan.out
    resume = plan.resume_from is not None
    prov = provenance(cfg, plan.entropy)
    _start_dir(plan, prov)
    with _Logging(out / "log.txt", echo):
        log.info("fieldsolve %s run %s -> %s%s", cfg.kind, cfg.name or "", out, " (resume)" if resume else "")
        for note in notes:
            log.warning("%s", note)
        try:
            _rewind(plan)
            if cfg.kind in ("nbody", "pic"):
                res = _run_particles(plan, prov, progress, stop_after)
            else:
                res = _RUNNERS[cfg.kind](cfg, out, prov, plan.inputs)
        except ConfigError as exc:
            log.error("invalid input: %s", exc)
            raise
        except KeyboardInterrupt as exc:  # during set-up, before the step loop traps signals
            log.error("interrupted before the run could stop cleanly (no checkpoint written now)")
            exc.run_dir, exc.resumable = out, resume
            raise
        except Exception as exc:
            log.exception("run failed: %s", _describe(exc))
            raise RunError(_describe(exc), log=out / "log.txt") from exc
        log.info("%s", res.summary())
        return res


def _describe(exc) -> str:
    """One line: our own errors as they are, others with their type (``MemoryError``...)."""
    if isinstance(exc, (RunError, fio.WriteError)):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run_particles(plan, prov, progress, stop_after):
    cfg, out = plan.cfg, plan.out
    sim = _ParticleRun(cfg, out, prov, progress)
    t0 = _time.perf_counter()
    if plan.resume_from is not None:
        sim.restore(plan.resume_from, *plan.checkpoint)
        sim.snapshots = sorted((out / "diags" / "fields").glob("fs_*.h5"))
        log.info("resumed from %s at step %d, t = %.6g", plan.resume_from.name, sim.step, sim.t)
    else:
        ss = np.random.SeedSequence(cfg.seed)
        s_ic, s_run = ss.spawn(2)
        sim.init_state(np.random.default_rng(s_ic), np.random.default_rng(s_run), plan.inputs)
        sim.write_snapshot()
        log.info("%d particles, grid %s, box %s, periodic %s", sim.p["position"].shape[0], sim.grid.shape,
                 sim.grid.box, sim.grid.periodic)
    with _Signals() as signals:
        interrupted = sim.loop(signals, stop_after)
        sim.write_checkpoint()  # always: a finished run can be extended with --resume
    wall = _time.perf_counter() - t0
    e = np.asarray(sim.ts["total_energy"])
    final = {"kinetic_energy": sim.ts["kinetic_energy"][-1], sim.model.energy_name: sim.ts[sim.model.energy_name][-1],
             "total_energy": float(e[-1]),
             "relative_energy_error": float(abs(e[-1] - e[0]) / abs(e[0])) if e[0] != 0 else float("nan"),
             "max_relative_energy_error": float(np.max(np.abs(e - e[0])) / abs(e[0])) if e[0] != 0 else float("nan"),
             "wall_seconds": wall}
    mom = np.asarray(sim.ts["momentum"])
    final["max_abs_momentum"] = float(np.max(np.abs(mom)))
    if interrupted:
        log.info("stopped (%s) at step %d, t = %.6g; checkpoint %s; continue with "
                 "`fieldsolve run --resume %s`", interrupted, sim.step, sim.t, sim.checkpoint.name, out)
    plots = [] if interrupted else _plots(out, cfg.output.plots)
    res = RunResult(run_dir=out, config=cfg, kind=cfg.kind, steps=sim.step, time=sim.t, snapshots=sim.snapshots,
                    timeseries=out / "timeseries.h5", checkpoint=sim.checkpoint, plots=plots, final=final,
                    interrupted=interrupted)
    res.state = sim.p
    return res


# --------------------------------------------------------------------------------------------
# single Poisson solve
# --------------------------------------------------------------------------------------------
def _poisson_model(cfg, grid, inputs=None):
    """(density on the grid, analytic model or None) for the configured source; an HDF5 source
    comes from ``inputs`` (read and checked before the run started) or is read now."""
    from . import analytic

    src = cfg.source
    if src.kind == "hdf5":
        if inputs is None:
            from .inputs import load_inputs

            inputs = load_inputs(cfg)
        return inputs["source"], None
    center = src.center or [o + b / 2 for o, b in zip(grid.origin, grid.box)]
    if src.kind == "gaussian":
        if grid.all_periodic and grid.ndim == 3:
            model = analytic.GaussianLattice(mass=src.mass, sigma=src.sigma, center=center, box=grid.box, G=cfg.G)
        elif not any(grid.periodic):
            model = analytic.Gaussian(mass=src.mass, sigma=src.sigma, center=center, ndim=grid.ndim, G=cfg.G)
        else:
            model = None
        if model is None or isinstance(model, analytic.GaussianLattice):
            dens = analytic.Gaussian(mass=src.mass, sigma=src.sigma, center=center, ndim=grid.ndim, G=cfg.G)
            rho = dens.density(grid)
        else:
            rho = model.density(grid)
        return np.asarray(np.broadcast_to(rho, grid.shape), dtype=np.float64), model
    model = analytic.Plummer(mass=src.mass, a=src.scale_radius, center=center, G=cfg.G)
    rho = np.asarray(np.broadcast_to(model.density(grid), grid.shape), dtype=np.float64)
    return rho, (model if not any(grid.periodic) else None)


def _run_poisson(cfg, out, prov, inputs):
    from .poisson import PoissonSolver

    t0 = _time.perf_counter()
    grid = cfg.grid.make()
    try:
        solver = PoissonSolver(grid, cfg.solver.kernel, warn_mean=False)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"solver.kernel = {cfg.solver.kernel!r}: {exc}") from None
    rho, model = _poisson_model(cfg, grid, inputs)
    f = 4 * np.pi * cfg.G * rho
    if grid.all_periodic:
        f = f - f.mean()
    phi = solver.solve(f)
    g = -np.asarray(solver.gradient(phi, method=cfg.solver.gradient))
    final = {"kernel": solver.kernel_name, "solve_order": float(solver.order)}
    extras = {}
    if model is not None:
        exact = np.asarray(np.broadcast_to(model.potential(grid), grid.shape), dtype=np.float64)
        if grid.all_periodic:
            exact = exact - exact.mean()
        err = phi - exact
        final["phi_rel_l2_error"] = float(np.linalg.norm(err) / np.linalg.norm(exact))
        final["phi_rel_linf_error"] = float(np.abs(err).max() / np.abs(exact).max())
        extras = {"phi_exact": exact, "phi_error": err}
        log.info("potential error vs analytic: relL2 %.3e, relLinf %.3e",
                 final["phi_rel_l2_error"], final["phi_rel_linf_error"])
        if hasattr(model, "acceleration"):  # the periodic lattice sum has a potential only
            acc = np.moveaxis(np.asarray(model.acceleration(grid)), -1, 0)
            acc = np.broadcast_to(acc, g.shape)
            final["field_rel_l2_error"] = float(np.linalg.norm(g - acc) / np.linalg.norm(acc))
            log.info("field error vs analytic: relL2 %.3e", final["field_rel_l2_error"])
    else:
        log.info("no analytic potential for this source/boundary combination; no error reported")
    meshes = {"rho": {"data": rho, "unit_dimension": fio.UNIT_DIMENSION["mass_density"], "unit_si": 1.0},
              "phi": {"data": phi, "unit_dimension": fio.UNIT_DIMENSION["grav_potential"], "unit_si": 1.0},
              "g": {"data": g, "unit_dimension": fio.UNIT_DIMENSION["acceleration"], "unit_si": 1.0}}
    keep = {"density": "rho", "potential": "phi", "field": "g"}
    meshes = {keep[k]: meshes[keep[k]] for k in cfg.output.fields}
    fields_dir = out / "diags" / "fields"
    snap = fio.write_iteration(fields_dir, 0, time=0.0, dt=0.0, grid=grid, meshes=meshes, dtype=cfg.output.dtype,
                               config_yaml=dump_config(cfg), provenance_json=json.dumps(prov, sort_keys=True),
                               config_sha=config_hash(cfg), extras=extras,
                               software_version=prov["fieldsolve_version"])
    fio.write_pmd_index(fields_dir)
    scalars = {k: v for k, v in final.items() if isinstance(v, float)}
    fio.atomic_write_text(out / "result.json", json.dumps({**final, **scalars}, indent=1, sort_keys=True) + "\n")
    final["wall_seconds"] = _time.perf_counter() - t0
    plots = _plots(out, cfg.output.plots)
    res = RunResult(run_dir=out, config=cfg, kind="poisson", steps=0, time=0.0, snapshots=[snap],
                    plots=plots, final=final)
    res.state = {"density": rho, "potential": phi, "field": g}
    return res


# --------------------------------------------------------------------------------------------
# a-priori LES
# --------------------------------------------------------------------------------------------
def _les_velocity(cfg, grid, inputs):
    v = cfg.velocity
    if v.kind == "synthetic":
        from .turbulence import synthetic_turbulence

        ss = np.random.SeedSequence(cfg.seed)
        return synthetic_turbulence(grid, spectrum=v.spectrum, k_peak=v.k_peak, u_rms=v.u_rms, seed=ss.spawn(1)[0])
    return inputs["velocity"]  # read and checked before the run started (fieldsolve.inputs)


def _run_les(cfg, out, prov, inputs):
    from .les import apriori

    t0 = _time.perf_counter()
    grid = cfg.grid.make()
    u = _les_velocity(cfg, grid, inputs)
    try:
        res = apriori(u, grid, filter=cfg.filter.make_args(grid),
                      test_filter=cfg.test_filter.make_args(grid) if cfg.test_filter else None)
    except ValueError as exc:
        raise ConfigError(f"filter: {exc}") from None
    nd = grid.ndim
    UD = fio.UNIT_DIMENSION
    meshes = {}
    if "velocity" in cfg.output.fields:
        meshes["u"] = {"data": u, "unit_dimension": UD["velocity"]}
    if "filtered_velocity" in cfg.output.fields:
        meshes["ubar"] = {"data": res.ubar, "unit_dimension": UD["velocity"]}
    if "dissipation" in cfg.output.fields:
        meshes["Pi"] = {"data": res.dissipation, "unit_dimension": (2, 0, -3, 0, 0, 0, 0)}
    if "sgs_energy" in cfg.output.fields:
        meshes["k_sgs"] = {"data": res.sgs_energy, "unit_dimension": UD["grav_potential"]}
    if "stress" in cfg.output.fields:
        labels = "xyz"[:nd]
        pairs = [(i, j) for i in range(nd) for j in range(i, nd)]
        meshes["tau"] = {"data": np.stack([res.tau[i, j] for i, j in pairs]), "unit_dimension": UD["grav_potential"],
                         "components": [labels[i] + labels[j] for i, j in pairs]}
    fields_dir = out / "diags" / "fields"
    filters = {name: np.bytes_(json.dumps(meta, default=str).encode())
               for name, meta in (("filter", res.filter), ("test_filter", res.test_filter)) if meta}
    snap = fio.write_iteration(fields_dir, 0, time=0.0, dt=0.0, grid=grid, meshes=meshes, dtype=cfg.output.dtype,
                               config_yaml=dump_config(cfg), provenance_json=json.dumps(prov, sort_keys=True),
                               config_sha=config_hash(cfg), software_version=prov["fieldsolve_version"],
                               extras={"spectra": {"k": res.k, "E": res.E, "E_filtered": res.E_filtered,
                                                   "@binning": "shell_sum: sum(E) dk = <u.u>/2, u_k = DFT/N"},
                                       "filters": filters}, extras_root=True)
    fio.write_pmd_index(fields_dir)
    summary = res.summary()
    final = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float, np.floating))}
    fio.atomic_write_text(out / "result.json", json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
    log.info("a-priori LES: %s", ", ".join(f"{k} = {v:.6g}" for k, v in final.items()))
    final["wall_seconds"] = _time.perf_counter() - t0
    plots = _plots(out, cfg.output.plots)
    r = RunResult(run_dir=out, config=cfg, kind="les", snapshots=[snap], plots=plots, final=final)
    r.state = {"velocity": u, "apriori": res}
    return r


_RUNNERS = {"poisson": _run_poisson, "les": _run_les}
