"""The particle loop shared by ``nbody`` and ``pic`` runs: kick-drift-kick leapfrog with the
forces of the run type's model (:mod:`.nbody`, :mod:`.pic`), snapshots, time series and
checkpoints. A finished run can be extended with ``--resume`` bit for bit.

On several MPI ranks each rank holds the particles whose home plane its slab holds (a 1-D mesh
is replicated: each rank holds a contiguous share of the particles), migrates them after every
drift, and sums energies and momenta over the ranks. Initial conditions are drawn whole on
every rank, so they are the same for any number of ranks. Snapshots are gathered to rank 0
(particles in id order); checkpoints are written by every rank
(:mod:`fieldsolve.parallel.checkpoint`) and resume on any number of ranks."""
from __future__ import annotations

import json
import math
import time as _time
from pathlib import Path

import numpy as np

from .. import _integrate_jit as _jit, files, openpmd
from ..config import config_hash, dump_config
from ..parallel import mpi
from ..parallel.layout import Decomposition
from . import nbody, pic
from .rundir import RunError, RunResult, _plots, _Signals, log

__all__ = ["run_particles"]

_END_RTOL = 1e-9  # a last step this close (relative to dt) to a whole step is not clipped
_MODELS = {"nbody": nbody, "pic": pic}


def _units(cfg):
    u = cfg.units
    return {"length": u.length_si, "time": u.time_si, "velocity": u.length_si / u.time_si,
            "mass": u.mass_si, "charge": getattr(u, "charge_si", 1.0)}


class _ParticleRun:
    def __init__(self, cfg, run_dir: Path, prov: dict, progress, comm=None):
        self.cfg, self.dir, self.prov = cfg, run_dir, prov
        self.grid = cfg.grid.make()
        self.comm = comm
        self.decomp = Decomposition(self.grid, comm)
        self.model = _MODELS[cfg.kind].Model(cfg, self.decomp)
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
        g = self.grid
        self._box = (np.array(g.origin), np.array(g.box), np.array(g.periodic))

    # ---- state ----
    def _share(self, p):
        """This rank's share of whole particle arrays (the same on every rank): on a split mesh
        the particles whose home plane the rank holds, on a replicated one a contiguous share."""
        d = self.decomp
        if d.size == 1:
            return p
        if d.split:
            from ..parallel.particles import owners

            keep = np.flatnonzero(owners(d, p["position"]) == d.rank)
        else:
            n = p["position"].shape[0]
            keep = slice(n * d.rank // d.size, n * (d.rank + 1) // d.size)
        return {k: np.ascontiguousarray(v[keep]) for k, v in p.items()}

    def _sum(self, value):
        """A sum over the particles of every rank."""
        return mpi.allsum(self.comm, value)

    def init_state(self, rng_ic, rng_run, inputs):
        self.p, self.species = _MODELS[self.cfg.kind].initial_particles(self.cfg, self.grid, rng_ic, inputs)
        self.p["position"] = np.ascontiguousarray(self.p["position"], dtype=np.float64)
        self.p["velocity"] = np.ascontiguousarray(self.p["velocity"], dtype=np.float64)
        _jit.wrap(self.p["position"], *self._box)
        self.n_total = self.p["position"].shape[0]
        self.p = self._share(self.p)
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
            ke = self._sum(0.5 * float(np.sum(m[:, None] * v * v)))
            if ke > 0:
                v *= math.sqrt(0.5 * abs(self.epot) / ke)
        self._record(0.0)

    def _forces(self):
        try:
            return self.model.accelerations(self.p["position"], self.p)
        except ValueError as exc:
            if "leave the bounded grid" in str(exc) or "outside" in str(exc):
                err = RunError(f"step {self.step}: a particle left the isolated box ({exc})")
                raise (mpi.everywhere(err) if mpi.on_every_rank(exc) else err) from None
            raise

    def _record(self, dt):
        ke, mom = _jit.energy_momentum(self.p["velocity"], self.p["mass"])
        if not mpi.serial(self.comm):
            s = self._sum(np.concatenate([[ke], mom]))
            ke, mom = float(s[0]), s[1:]
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
        self.n_total = state["position"].shape[0]
        state = self._share(state)  # written on any number of ranks
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
    def _gathered(self):
        """``(meshes, particles)`` whole on rank 0 (None elsewhere): the meshes written and, when
        needed, every particle array in id order (the serial order)."""
        cfg, d = self.cfg, self.decomp
        meshes = {name: d.gather(self.model.meshes[name]) for name in cfg.output.fields}
        p = self.p
        if (cfg.output.particles or cfg.output.gadget) and not mpi.serial(self.comm):
            parts = {k: self.comm.gather(v, root=0) for k, v in p.items()}
            p = None
            if d.rank == 0:
                p = {k: np.concatenate(v) for k, v in parts.items()}
                order = np.argsort(p["id"], kind="stable")
                p = {k: v[order] for k, v in p.items()}
        return meshes, p

    def write_snapshot(self):
        meshes, p = self._gathered()
        path = mpi.on_root(self.comm, self._write_snapshot, meshes, p)
        if path not in self.snapshots:
            self.snapshots.append(path)

    def _write_snapshot(self, fields, p):
        cfg = self.cfg
        meshes = {}
        mu = self.model.mesh_units(self.units)
        for name in cfg.output.fields:
            rec, udim, usi = mu[name]
            meshes[rec] = {"data": fields[name], "unit_dimension": udim, "unit_si": usi}
        particles = None
        if cfg.output.particles:
            particles = {}
            for name, a, b in self.species:
                sp = {"position": p["position"][a:b], "velocity": p["velocity"][a:b], "id": p["id"][a:b]}
                if cfg.kind == "pic":
                    w = p["weighting"][a:b]
                    sp["weighting"] = w[0] if np.all(w == w[0]) else w
                    sp["mass"] = float(p["mass"][a] / w[0])
                    sp["charge"] = float(p["charge"][a] / w[0])
                else:
                    m = p["mass"][a:b]
                    sp["mass"] = m[0] if m.size and np.all(m == m[0]) else m
                particles[name] = sp
        dt = self.ts["dt"][-1] if self.ts["dt"] else 0.0
        path = openpmd.write_iteration(self.fields_dir, self.step, time=self.t, dt=dt, grid=self.grid,
                                   meshes=meshes, particles=particles, dtype=cfg.output.dtype, units=self.units,
                                   config_yaml=self.cfg_yaml, provenance_json=self.prov_json,
                                   config_sha=self.sha, software_version=self.prov["fieldsolve_version"])
        if not (self.fields_dir / "fields.pmd").exists():
            openpmd.write_pmd_index(self.fields_dir)
        if cfg.output.gadget:
            gdir = self.dir / "diags" / "gadget"
            gdir.mkdir(parents=True, exist_ok=True)
            files.write_gadget(gdir / f"snap_{self.step:06d}.hdf5", p["position"], p["velocity"], p["id"],
                               p["mass"], box=max(self.grid.box), time=self.t, origin=self.grid.origin)
        self.write_timeseries()
        return path

    def write_timeseries(self):
        cols = {k: np.asarray(v, dtype=np.int64 if k == "step" else np.float64) for k, v in self.ts.items()}
        attrs = {}
        if self.cfg.kind == "pic":
            attrs["mode"] = np.array(self.model.mode, dtype=np.int64)
        files.write_timeseries(self.dir / "timeseries.h5", cols,
                             attrs={**attrs, "kind": self.cfg.kind, "config_sha256": self.sha,
                                    "energy_convention": "kinetic = sum m v^2/2; potential = sum rho phi dV/2 "
                                    "(gravity); field = eps0 sum E^2 dV/2 (pic)"})

    def write_checkpoint(self):
        mpi.on_root(self.comm, lambda: self.chk_dir.mkdir(parents=True, exist_ok=True))
        state, meta = self.checkpoint_state()
        path = self.chk_dir / f"chk_{self.step:06d}.h5"
        if mpi.serial(self.comm):
            files.write_checkpoint(path, state, meta)
        else:
            from ..parallel import checkpoint

            checkpoint.write(self.comm, path, state, meta)
        mpi.on_root(self.comm, self._checkpoint_written, path)
        self.checkpoint = path
        return path

    def _checkpoint_written(self, path):
        """Point ``latest`` at ``path``, remove the checkpoints beyond ``keep_last`` (and their
        part files), write the time series."""
        from ..parallel.checkpoint import part_files

        files.atomic_write_text(self.chk_dir / "latest", path.name + "\n")
        keep = self.cfg.checkpoint.keep_last
        for f in sorted(self.chk_dir.glob("chk_*.h5"))[:-keep]:
            if f.name != self.extend_from:
                for part in part_files(f):
                    part.unlink()
                f.unlink()
        self.write_timeseries()

    # ---- integration ----
    def _step(self):
        """``(dt, clipped)``: the next step, and whether ``t_end`` shortened it. A last step
        within a rounding error of a whole step is taken whole, as a longer run would take it."""
        tcfg = self.cfg.time
        dt = tcfg.dt
        if tcfg.cfl is not None:
            vmax = mpi.allmax(self.comm, float(np.max(np.abs(self.p["velocity"]))) if self.p["velocity"].size else 0.0)
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
        _jit.kick(p["velocity"], self.acc, 0.5 * dt)
        _jit.drift(p["position"], p["velocity"], dt, *self._box)
        if self.decomp.split:  # to the ranks holding their new home planes
            from ..parallel.particles import migrate

            keys = [k for k in p if k != "position"]
            x, rest = migrate(self.decomp, p["position"], *(p[k] for k in keys))
            self.p = p = {"position": x, **dict(zip(keys, rest))}
        self.acc, self.epot = self._forces()
        _jit.kick(p["velocity"], self.acc, 0.5 * dt)
        self.step += 1
        tcfg = self.cfg.time
        if last:
            self.t = tcfg.t_end
        elif tcfg.cfl is None:
            self.t = self.step * tcfg.dt
        else:
            self.t = self.t + dt
        self._record(dt)

    def _caught(self, signals):
        """The signal caught on any rank (every rank stops at the same step)."""
        if mpi.serial(self.comm):
            return signals.caught
        return next((c for c in self.comm.allgather(signals.caught) if c), None)

    def loop(self, signals, stop_after=None):
        from tqdm import tqdm

        ocfg, ccfg = self.cfg.output, self.cfg.checkpoint
        total = self.total_steps()
        disable = True if self.decomp.rank != 0 else (None if self.progress is None else not self.progress)
        bar = tqdm(total=total, initial=self.step, disable=disable,
                   desc=f"fieldsolve {self.cfg.kind}", unit="step", leave=False, dynamic_ncols=True)
        done_here = 0
        interrupted = None
        try:
            while not self._done():
                if not math.isfinite(self.ts["total_energy"][-1]):
                    raise mpi.everywhere(RunError(f"step {self.step}: energy is not finite; the run diverged "
                                                  "(reduce time.dt)"))  # the energy is global
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
                caught = self._caught(signals)
                if caught and not final:
                    interrupted = caught
                    break
                if stop_after is not None and done_here >= stop_after and not final:
                    interrupted = "stop_after"
                    break
        finally:
            bar.close()
        return interrupted


def run_particles(plan, prov, progress, stop_after):
    cfg, out = plan.cfg, plan.out
    sim = _ParticleRun(cfg, out, prov, progress, plan.comm)
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
        log.info("%d particles, grid %s, box %s, periodic %s%s", sim.n_total, sim.grid.shape,
                 sim.grid.box, sim.grid.periodic,
                 "" if mpi.serial(plan.comm) else f", {mpi.size(plan.comm)} ranks")
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
    plots = [] if interrupted else mpi.on_root(sim.comm, _plots, out, cfg.output.plots)  # rank 0 draws
    res = RunResult(run_dir=out, config=cfg, kind=cfg.kind, steps=sim.step, time=sim.t, snapshots=sim.snapshots,
                    timeseries=out / "timeseries.h5", checkpoint=sim.checkpoint, plots=plots, final=final,
                    interrupted=interrupted)
    res.state = sim.p  # this rank's particles
    return res
