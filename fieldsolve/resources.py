"""Resources of a run, checked before anything is written: peak memory and threads.

:func:`estimate_memory` predicts the peak resident memory of a run from its config. The model
counts what the run holds at its peak, in units of one float64 array on the grid (``F``), on
the padded free-space grid (``PF``) and per particle, plus the libraries' own working memory:

==============  =====================================================================
particles       ``8 (5 d + 2) B`` each (``8 (5 d + 6) B`` for pic: charge, weighting,
                q/m): positions, velocities, accelerations, masses, ids, sort scratch
mesh            nbody/pic ``4 d F`` on periodic grids, ``(4 + 4 d) F`` otherwise; poisson
                ``(2 + 4 d) F`` (``(6 + 4 d) F`` with an analytic field to compare with);
                les ``(16 + 5.6 d^2) F`` (tensors)
free space      ``0.9375 PF``: the Green's function spectrum (its even half), set-up and padded work
                buffer (any isolated axis; padding 2n)
runtime         48 MiB for the compiled kernels and FFT plans (2 MiB for les)
libraries       what numpy, SciPy, pyFFTW, h5py (and numba for particles) add once imported:
                a process that has imported them holds 160 MiB (105 MiB without numba:
                poisson, les), less what this process holds now
plots           44 MiB plus 48 B per particle (matplotlib, the last snapshot)
==============  =====================================================================

The coefficients were measured (peak RSS less the RSS before the run, fieldsolve 0.1.0,
64^3 to 128^3 grids, 10^5 to 4 x 10^6 particles, every run kind; within 10 %), and
``tests/test_resources.py`` checks whole runs against their measured peak RSS.

:func:`check_memory` refuses a run whose estimate exceeds the memory it may use: the config's
``resources.max_memory`` when set, otherwise what this machine has available (the smallest of
``MemAvailable``, the cgroup limit less its usage and ``ulimit -v`` less the address space in
use). ``force=True`` (``--force``) runs anyway.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .config import ConfigError, option

__all__ = ["estimate_memory", "available_memory", "check_memory", "effective_threads",
           "parse_bytes", "human_bytes"]

_MIB = 1 << 20
_RUNTIME = {"nbody": 48 * _MIB, "pic": 48 * _MIB, "poisson": 48 * _MIB, "les": 2 * _MIB}
_PLOTS, _PLOTS_PER_PARTICLE = 44 * _MIB, 48
# resident size of a process that has imported what the run kind uses (numba: nbody, pic)
_LIBRARIES = {"nbody": 160 * _MIB, "pic": 160 * _MIB, "poisson": 105 * _MIB, "les": 105 * _MIB}
_FREE_SPACE = 0.9375  # 1.375 while the full (2N)^2 (N+1) spectrum was kept (7/16 PF of it is gone)


def human_bytes(n) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "p": 1e15, "pb": 1e15, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50}


def parse_bytes(value) -> int:
    """Bytes from a number or a string such as ``"8 GiB"``, ``"512MB"``, ``"2e9"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size in bytes or a string like '8 GiB', got {value!r}")
    if isinstance(value, (int, float)):
        n = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError("not a size; write e.g. 8 GiB, 512 MiB, 16GB or a number of bytes")
        n = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(n) or n <= 0:
        raise ValueError("a memory size must be positive")
    return int(n)


# --------------------------------------------------------------------------------------------
# the estimate
# --------------------------------------------------------------------------------------------
def particle_count(cfg) -> int:
    """Particles the config asks for (0 for grid-only runs; HDF5 initial conditions: see
    :func:`fieldsolve.inputs.particle_count`)."""
    if cfg.kind == "pic":
        return sum(s.n_particles for s in cfg.species)
    if cfg.kind == "nbody":
        ic = cfg.initial
        if ic.kind == "zeldovich":
            return math.prod(ic.particles_per_axis)
        return getattr(ic, "n_particles", 0)
    return 0


def _mesh_fields(cfg, nd) -> float:
    if cfg.kind in ("nbody", "pic"):  # a periodic PM solve makes its gradient in place
        return 4 * nd + (0 if all(cfg.grid.per_axis("periodic")) else 4)
    if cfg.kind == "poisson":
        analytic_field = cfg.source.kind != "hdf5" and not any(cfg.grid.per_axis("periodic"))
        return (6 if analytic_field else 2) + 4 * nd
    return 16 + 5.6 * nd * nd


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux/BSD report KiB


def estimate_memory(cfg, n_particles=None, ranks=1) -> dict:
    """Peak memory of a run (bytes), by part; see the module docstring for the model. With
    ``ranks`` > 1 (MPI), the peak of one rank: particles, mesh and padded buffers divided among
    the ranks (a 1-D mesh is replicated on every rank), the runtime and libraries on each.

    Keys: ``parts`` (list of ``(bytes, description)``, largest first), ``run_bytes`` (their
    sum: what the run adds), ``process_bytes`` (this process now), ``total_bytes`` (both),
    ``largest``, ``particles``, ``grid_bytes`` (mesh + free-space buffers), ``particle_bytes``,
    ``snapshot_bytes`` (one output file)."""
    import numpy as np

    shape = list(cfg.grid.shape)
    nd = len(shape)
    periodic = cfg.grid.per_axis("periodic")
    cells = math.prod(shape)
    n = particle_count(cfg) if n_particles is None else int(n_particles)
    ranks = max(1, int(ranks))
    mesh_share = 1.0 if nd == 1 else 1.0 / ranks  # 1-D meshes are replicated, others split
    n = -(-n // ranks)  # particles per rank (evenly spread)
    parts = []
    particle_bytes = n * 8 * (5 * nd + 2 + (4 if cfg.kind == "pic" else 0))
    if n:
        parts.append((particle_bytes, f"{n:,} particles ({particle_bytes // n} B each)"))
    mesh = 8 * cells * _mesh_fields(cfg, nd) * mesh_share
    parts.append((mesh, f"mesh arrays on the {tuple(shape)} grid" + (f" (1/{ranks} per rank)"
                                                                     if mesh_share < 1 else "")))
    fft = 0
    if cfg.kind != "les" and not all(periodic):
        padded = [2 * s if not p else s for s, p in zip(shape, periodic)]
        fft = 8 * math.prod(padded) * _FREE_SPACE * mesh_share
        parts.append((fft, f"free-space Green's function and FFT buffers on the padded {tuple(padded)} grid"))
        if ranks > 1 and nd > 1:  # the kernel's even half is not split yet (docs/parallel.md)
            half = 8 * math.prod(s + 1 if not p else s // 2 + 1 for s, p in zip(shape, periodic))
            parts.append((half, "the Green's function's even half, whole on every rank"))
    parts.append((_RUNTIME[cfg.kind], "compiled kernels and FFT plans"))
    if getattr(cfg.output, "plots", False):
        parts.append((_PLOTS + _PLOTS_PER_PARTICLE * n, "plotting"))
    process = _rss()
    if process < _LIBRARIES[cfg.kind]:  # fieldsolve imports its libraries when first used
        parts.append((_LIBRARIES[cfg.kind] - process, "libraries still to be imported"))
    parts = sorted(((int(b), d) for b, d in parts), reverse=True)
    run_bytes = sum(b for b, _ in parts)
    item = np.dtype(cfg.output.dtype).itemsize
    comps = 2 * nd + nd * (nd + 1) // 2 + 2 if cfg.kind == "les" else 2 + nd
    snapshot = item * (cells * comps + 2 * nd * n) + 8 * n
    return {"parts": parts, "run_bytes": run_bytes, "process_bytes": process, "ranks": ranks,
            "total_bytes": process + run_bytes, "largest": f"{parts[0][1]}, {human_bytes(parts[0][0])}",
            "particles": n, "grid_bytes": int(mesh + fft), "particle_bytes": int(particle_bytes),
            "snapshot_bytes": int(snapshot)}


# --------------------------------------------------------------------------------------------
# what this machine has
# --------------------------------------------------------------------------------------------
def _meminfo(path="/proc/meminfo"):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _cgroup_headroom(proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """Smallest ``limit - usage`` of this process's memory cgroup and its parents (v2), or of
    its v1 memory cgroup; None without a limit."""
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    best = None
    for line in lines:
        hid, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hid == "0" and controllers == "":          # cgroup v2
            d = Path(root) / path.lstrip("/")
            while True:
                limit, used = _read_int(d / "memory.max"), _read_int(d / "memory.current")
                if limit is not None and used is not None:
                    best = min(best if best is not None else limit, max(limit - used, 0))
                if d == Path(root) or d.parent == d:
                    break
                d = d.parent
        elif "memory" in controllers.split(","):       # cgroup v1
            d = Path(root) / "memory" / path.lstrip("/")
            limit = _read_int(d / "memory.limit_in_bytes")
            used = _read_int(d / "memory.usage_in_bytes")
            if limit is not None and used is not None and limit < 1 << 60:
                best = min(best if best is not None else limit, max(limit - used, 0))
    return best


def _address_space_headroom():
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(soft - int(line.split()[1]) * 1024, 0)
    except (OSError, ValueError):
        pass
    return soft


def available_memory():
    """``(bytes, what)``: the memory a new run may still use here, or ``(None, reason)``."""
    found = [(_meminfo(), "memory available on this machine"),
             (_cgroup_headroom(), "memory left under this cgroup's limit"),
             (_address_space_headroom(), "address space left under ulimit -v")]
    found = [(b, w) for b, w in found if b is not None]
    if not found:
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "free memory on this machine"
        except (ValueError, OSError, AttributeError):
            return None, "the available memory is unknown on this system"
    return min(found)


def check_memory(cfg, n_particles=None, *, force=False, ranks=1) -> dict:
    """The estimate; :class:`ConfigError` if it exceeds ``resources.max_memory`` (when set)
    or the available memory, unless ``force``. With MPI ``ranks``, the estimate is per rank and
    the machine must hold all of them (one node: the conservative case)."""
    est = estimate_memory(cfg, n_particles, ranks)
    limit = getattr(getattr(cfg, "resources", None), "max_memory", None)
    where = "resources.max_memory"
    if limit is None:
        limit, where = available_memory()
    est["limit_bytes"], est["limit"] = limit, where
    need = est["run_bytes"] * (est["ranks"] if where != "resources.max_memory" else 1)
    if force or limit is None or need <= limit:
        return est
    per = f" ({est['ranks']} ranks x {human_bytes(est['run_bytes'])})" if est["ranks"] > 1 else ""
    raise ConfigError(f"estimated peak memory {human_bytes(need)}{per} exceeds the "
                      f"{human_bytes(limit)} of {where} (largest part: {est['largest']}); make the "
                      f"grid or the particle count smaller, or override with {option('force')} or "
                      "resources.max_memory")


def effective_threads(cfg):
    """``(threads, note)``: the config's thread count capped at this machine's cores (note
    says so), or ``(None, None)`` for all cores."""
    from ._threads import _default_threads

    if cfg.threads is None:
        return None, None
    cores = _default_threads()
    if cfg.threads > cores:
        return cores, f"threads = {cfg.threads} but {cores} cores are available here; using {cores}"
    return cfg.threads, None
