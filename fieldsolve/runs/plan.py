"""From a config (or a run directory to resume) to a checked plan: everything a run needs,
validated before anything is written."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import files
from ..config import ConfigError, load_config, load_yaml, names_a_file, option, read_config_text
from ..inputs import preflight
from .rundir import RESUME_MUTABLE, _diff_keys, _mutable

__all__ = ["Plan", "plan_new", "plan_resume"]


def _resolve_seed(cfg):
    if cfg.seed is not None:
        return cfg, None
    entropy = np.random.SeedSequence().entropy
    return cfg.model_copy(update={"seed": int(entropy)}), int(entropy)


@dataclass
class Plan:
    """Everything a run needs, checked before anything is written."""
    cfg: object
    out: Path
    entropy: int | None = None
    raw_text: str | None = None
    inputs: dict = field(default_factory=dict)
    resume_from: Path | None = None      # checkpoint to continue from
    checkpoint: tuple | None = None      # its (state, meta), already read and checked
    rewind: list = field(default_factory=list)  # outputs after resume_from that an extension replaces
    comm: object = None                  # MPI communicator (None: serial)
    notes: list = field(default_factory=list)  # warnings for the log (fieldsolve.pm.pitfalls)


def plan_new(config, out, overrides, overwrite, force, comm=None):
    if config is None:
        raise ConfigError("no config given")
    raw_text = None
    if isinstance(config, (str, Path)) and names_a_file(config):
        raw_text = read_config_text(config)  # copied to config.yaml as given
        config = load_yaml(raw_text, source=str(config))
    cfg = load_config(config, overrides)
    if comm is not None and comm.Get_size() > 1:  # one seed for every rank: rank 0's
        cfg, entropy = comm.bcast(_resolve_seed(cfg) if comm.Get_rank() == 0 else None, root=0)
    else:
        cfg, entropy = _resolve_seed(cfg)
    out = Path(out) if out is not None else Path("runs") / (cfg.name or cfg.kind)
    inputs, _, notes = preflight(cfg, out, overwrite=overwrite, force=force, ranks=_size(comm))
    return Plan(cfg, out, entropy, raw_text, inputs, comm=comm, notes=notes)


def _size(comm):
    return 1 if comm is None else comm.Get_size()


_STATE_ARRAYS = {"nbody": ("position", "velocity", "acceleration", "mass", "id"),
                 "pic": ("position", "velocity", "acceleration", "mass", "charge", "weighting", "id", "qm")}
_META_KEYS = ("step", "time_hex", "epot_hex", "rng_state", "species", "kind", "config")


def _read_checkpoint(out, name):
    """``(path, state, meta)`` of ``out/checkpoints/name``, checked to hold a complete state."""
    path = out / "checkpoints" / name
    where = f"{option('resume', out)}: checkpoint {name}"
    try:
        state, meta = files.read_checkpoint(path)
    except files.ReadError as exc:
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


def plan_resume(config, out, overrides, force, comm=None):
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
    plan = Plan(cfg, out, resume_from=path, checkpoint=(state, meta), comm=comm)
    if _check_end(cfg, meta, out) and meta.get("extend_from"):
        # the run ended with a step shortened to reach t_end: extend from just before it
        path, state, meta = _read_checkpoint(out, meta["extend_from"])
        plan.resume_from, plan.checkpoint = path, (state, meta)
        plan.rewind = _rewound(out, int(meta["step"]))
    plan.notes = preflight(cfg, force=force, n_particles=np.shape(state["position"])[0], ranks=_size(comm))[2]
    return plan
