"""Everything a run needs besides its config, checked before anything is written.

``fieldsolve validate`` and :func:`fieldsolve.run` call :func:`preflight`: the output location,
the solver, kernel and filters against the grid, the memory estimate, and every input file the
config names (initial conditions, Poisson source, LES velocity: present, HDF5, the datasets,
their shapes, finite values, particles inside a bounded grid). Every problem is one
:class:`~fieldsolve.config.ConfigError` line naming the key, the file and what is wrong; the
files are read once and handed to the run.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .config import ConfigError, option

__all__ = ["preflight", "check_out_dir", "check_solver", "load_inputs", "particle_count"]


# --------------------------------------------------------------------------------------------
# output location
# --------------------------------------------------------------------------------------------
def is_run_dir(path: Path) -> bool:
    return (path / "config.resolved.yaml").exists() or (path / "provenance.json").exists()


def _nearest_existing(path: Path) -> Path:
    for p in [path, *path.parents]:
        if p.exists():
            return p
    return Path(".")


def check_out_dir(out, *, overwrite=False, strict=True):
    """Raise unless a run could be written to ``out``. ``strict=False`` (validate) allows a
    non-empty directory and returns a note instead."""
    out = Path(out)
    where = option("out", out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{where}: exists and is not a directory")
    base = _nearest_existing(out)
    if not base.is_dir():
        raise ConfigError(f"{where}: {base} is a file, so no directory can be made under it")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: {base} is not writable")
    if out.exists() and any(out.iterdir()):
        if not strict:
            return (f"{where} is not empty (a run would need {option('overwrite')} or "
                    f"{option('resume')})")
        if not overwrite:
            raise ConfigError(f"{where}: directory is not empty; pass {option('overwrite')} to replace a "
                              f"previous run or {option('resume')} to continue it")
        if not is_run_dir(out):
            raise ConfigError(f"{where}: {option('overwrite')} only replaces a fieldsolve run directory "
                              "(one holding config.resolved.yaml); this one is not")
    return None


# --------------------------------------------------------------------------------------------
# solver, kernel, gradient, filters against the grid
# --------------------------------------------------------------------------------------------
def check_solver(cfg) -> list:
    """What the config's own validation (which builds the solver: kernel against grid) leaves
    to the grid's size: a finite-difference gradient with too few cells on a free axis, LES
    filter widths; cheap, nothing is solved. Returns notes: valid PM settings known to give poor
    forces (:func:`fieldsolve.pm.pitfalls`)."""
    grid = cfg.grid.make()
    if cfg.kind == "les":
        from .sgs import as_filter

        for key in ("filter", "test_filter"):
            fcfg = getattr(cfg, key)
            if fcfg is not None:
                try:
                    as_filter(grid, fcfg.make_args(grid))
                except ValueError as exc:
                    raise ConfigError(f"{key}: {exc}") from None
        return []
    notes = []
    if cfg.kind == "poisson":
        from .poisson import _default_method

        method = _default_method(grid, cfg.solver.gradient)
    else:
        from .pm import DEFAULTS, pitfalls

        method = cfg.solver.gradient or DEFAULTS["gradient"]
        s = cfg.solver.pm_settings()
        notes = [f"solver: {m}" for m in pitfalls(s.get("kernel"), s.get("deconvolve", False), s.get("split"),
                                                  s.get("window", DEFAULTS["window"]), method)]
    _check_gradient(grid, method)
    return notes


def _check_gradient(grid, method):
    """The finite-difference stencils' rule, applied to one line of each free axis."""
    from .kernels.differencing import fd_derivative

    if method == "spectral":
        return
    for a, n in enumerate(grid.shape):
        if not grid.periodic[a]:
            try:
                fd_derivative(np.zeros(n), 0, grid.spacing[a], method, False)
            except ValueError as exc:
                raise ConfigError(f"solver.gradient = {method!r} on grid.shape = {list(grid.shape)}: "
                                  f"{exc}") from None


# --------------------------------------------------------------------------------------------
# input files
# --------------------------------------------------------------------------------------------
def _read(key, path, what):
    """Run ``what()`` (a reader of ``path``) turning every read problem into one line."""
    try:
        return what()
    except ConfigError:
        raise
    except ValueError as exc:  # ReadError and the readers' own checks name the file first
        raise ConfigError(f"{key} = {str(path)!r}: {str(exc).removeprefix(f'{path}: ')}") from None
    except (OSError, KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"{key} = {str(path)!r}: cannot read ({exc})") from None


def particle_count(cfg) -> int:
    """Particles of the run; for HDF5 initial conditions read from the file's metadata only."""
    from .resources import particle_count as configured

    if cfg.kind != "nbody" or cfg.initial.kind != "hdf5":
        return configured(cfg)
    from .files import open_h5

    ic = cfg.initial

    def count():  # 0 when the layout is unexpected: load_inputs then says what is wrong
        with open_h5(ic.path) as f:
            try:
                if "openPMD" not in f.attrs:
                    return f["position"].shape[0]
                its = sorted(int(k) for k in f["data"].keys())
                it = ic.iteration if ic.iteration is not None else its[-1]
                species = f[f"data/{it}/particles"]
                return species[ic.species or sorted(species)[0]]["id"].shape[0]
            except (KeyError, IndexError, ValueError, TypeError, AttributeError):
                return 0

    return _read("initial.path", ic.path, count)


def _initial_particles(cfg, grid):
    from .assign import check_positions
    from .ic import particles_from_hdf5

    ic = cfg.initial
    p = _read("initial.path", ic.path,
              lambda: particles_from_hdf5(ic.path, grid.ndim, species=ic.species, iteration=ic.iteration))
    if p["position"].shape[0] == 0:
        raise ConfigError(f"initial.path = {ic.path!r}: holds no particles")
    from .pm import DEFAULTS

    try:
        check_positions(grid, p["position"], cfg.solver.window or DEFAULTS["window"])
    except ValueError as exc:
        raise ConfigError(f"initial.path = {ic.path!r}: {exc}") from None
    return p


def _grid_dataset(key, path, dataset, shape):
    """A real, finite float64 array of ``shape`` from ``path[dataset]``."""
    from .files import open_h5

    def read():
        with open_h5(path) as f:
            if dataset not in f:
                raise ConfigError(f"{key.rsplit('.', 1)[0]}.dataset = {dataset!r}: not in {path}; "
                                  f"datasets: {sorted(f.keys())}")
            ds = f[dataset]
            if not hasattr(ds, "shape") or tuple(ds.shape) != tuple(shape):
                got = getattr(ds, "shape", "a group")
                raise ConfigError(f"{key.rsplit('.', 1)[0]}.dataset {dataset!r} has shape {got}; expected "
                                  f"{tuple(shape)} (from grid.shape)")
            if ds.dtype.kind not in "fiu":
                raise ConfigError(f"{key.rsplit('.', 1)[0]}.dataset {dataset!r} has dtype {ds.dtype}; "
                                  "expected real numbers")
            return np.asarray(ds[()], dtype=np.float64)

    data = _read(key, path, read)
    if not np.isfinite(data).all():
        raise ConfigError(f"{key} = {str(path)!r}: dataset {dataset!r} holds "
                          f"{int((~np.isfinite(data)).sum())} NaN or infinite values")
    return data


def load_inputs(cfg) -> dict:
    """Read and check every input file of ``cfg``: ``{"particles": ...}`` (nbody HDF5 initial
    conditions), ``{"source": rho}`` (poisson), ``{"velocity": u}`` (les), or ``{}``."""
    grid = cfg.grid.make()
    if cfg.kind == "nbody" and cfg.initial.kind == "hdf5":
        return {"particles": _initial_particles(cfg, grid)}
    if cfg.kind == "poisson" and cfg.source.kind == "hdf5":
        return {"source": _grid_dataset("source.path", cfg.source.path, cfg.source.dataset, grid.shape)}
    if cfg.kind == "les" and cfg.velocity.kind == "hdf5":
        return {"velocity": _grid_dataset("velocity.path", cfg.velocity.path, cfg.velocity.dataset,
                                          (grid.ndim,) + grid.shape)}
    return {}


def preflight(cfg, out=None, *, overwrite=False, force=False, strict=True, n_particles=None, ranks=1):
    """Every check a run makes before it writes anything, cheapest first. Returns
    ``(inputs, memory estimate, notes)``. A resumed run passes ``n_particles`` (its state comes
    from the checkpoint, so no input file is read)."""
    from .resources import check_memory, effective_threads

    notes = []
    if out is not None:
        note = check_out_dir(out, overwrite=overwrite, strict=strict)
        notes += [note] if note else []
    note = effective_threads(cfg)[1]
    notes += [note] if note else []
    from .parallel.layout import check_split

    shape = cfg.grid.per_axis("shape")
    try:
        check_split(shape, ranks)
    except ValueError as exc:
        raise ConfigError(f"grid.shape = {list(shape)}: {exc}") from None
    est = check_memory(cfg, particle_count(cfg) if n_particles is None else n_particles, force=force,
                       ranks=ranks)
    notes += check_solver(cfg)
    inputs = load_inputs(cfg) if n_particles is None else {}
    return inputs, est, notes
