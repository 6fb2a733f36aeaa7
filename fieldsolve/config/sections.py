"""Config sections shared by the run types: field types with clear messages, grid, solver,
time stepping, output, checkpoints, units, resources, initial conditions of nbody runs.
Kernel names are validated against :mod:`fieldsolve.kernels`' registry."""
from __future__ import annotations

import math
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..kernels import names as _kernel_names

# --------------------------------------------------------------------------------------------
# field types with clear messages
# --------------------------------------------------------------------------------------------
def _int_like(v):
    if isinstance(v, bool):
        raise ValueError(f"expected an integer, got the boolean {v}")
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise ValueError(f"expected an integer, got {v!r}")
    if isinstance(v, str):
        raise ValueError(f"expected an integer, got the string {v!r}")
    return v


def _float_like(v):
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got the boolean {v}")
    if isinstance(v, str):
        raise ValueError(f"expected a number, got the string {v!r}")
    if isinstance(v, (int, float)) and not math.isfinite(float(v)):
        raise ValueError(f"expected a finite number, got {v!r}")
    return v


def _bool_like(v):
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


Int = Annotated[int, BeforeValidator(_int_like)]
PosInt = Annotated[int, BeforeValidator(_int_like), Field(gt=0)]
NonNegInt = Annotated[int, BeforeValidator(_int_like), Field(ge=0)]
Float = Annotated[float, BeforeValidator(_float_like)]
PosFloat = Annotated[float, BeforeValidator(_float_like), Field(gt=0)]
NonNegFloat = Annotated[float, BeforeValidator(_float_like), Field(ge=0)]
Bool = Annotated[bool, BeforeValidator(_bool_like)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
WindowName = Literal[_kernel_names("window")]
Gradient = Literal[_kernel_names("gradient")]
FieldName = Literal["density", "potential", "field"]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def ListOf(tp, **kw):
    """A list; a scalar is accepted as a one-element list (broadcast over axes where allowed)."""
    return Annotated[list[tp], BeforeValidator(_as_list), Field(**kw)]


# --------------------------------------------------------------------------------------------
# common sections
# --------------------------------------------------------------------------------------------
class GridConfig(_Base):
    """Uniform cell-centred grid (see ``fieldsolve.Grid``)."""
    shape: ListOf(PosInt, min_length=1, max_length=3) = Field(
        description="cells per axis, 1 to 3 axes (one integer: a 1-D grid)")
    box: ListOf(PosFloat, min_length=1, max_length=3) = Field(
        [1.0], description="box length per axis (one value: the same on every axis)")
    origin: ListOf(Float, min_length=1, max_length=3) = Field([0.0], description="lower corner of the box")
    periodic: ListOf(Bool, min_length=1, max_length=3) = Field(
        [True], description="periodic (true) or isolated (false), per axis")

    @model_validator(mode="after")
    def _lengths(self):
        nd = len(self.shape)
        for name in ("box", "origin", "periodic"):
            v = getattr(self, name)
            if len(v) not in (1, nd):
                raise ValueError(f"grid.{name} = {v} has {len(v)} entries but grid.shape = {self.shape} "
                                 f"has {nd} axes; give 1 or {nd}")
        return self

    @property
    def ndim(self):
        return len(self.shape)

    def per_axis(self, name):
        v = list(getattr(self, name))
        return v * self.ndim if len(v) == 1 else v

    def make(self):
        from ..grid import Grid

        return Grid(tuple(self.shape), tuple(self.per_axis("box")), tuple(self.per_axis("origin")),
                    tuple(self.per_axis("periodic")))


class SolverConfig(_Base):
    """Poisson solve and particle-mesh coupling (fieldsolve.pm.ParticleMesh for nbody/pic)."""
    kernel: Optional[str] = Field(None, description="Green's-function kernel (fieldsolve.PoissonSolver); "
                                  "null = fd4 (periodic) / zeta (free) for nbody and pic, the solver's "
                                  "default (spectral / zeta) for poisson")
    gradient: Optional[Gradient] = Field(None, description="gradient of the potential: spectral (periodic "
                                         "grids only), fd2 or fd4; null = fd4 for nbody and pic, spectral "
                                         "(periodic) / fd4 for poisson")
    window: Optional[WindowName] = Field(None, description="particle assignment window for deposit and "
                                         "readout; null = tsc (the older key `scheme` is read as `window`)")
    deconvolve: Bool = Field(False, description="divide the Green's function by W(k)^2 (use with split; "
                             "not with kernel optimal, which has it built in)")
    interlace: Bool = Field(False, description="interlaced deposit and readout (periodic grids)")
    split: Optional[PosFloat] = Field(None, description="Gaussian long/short split radius r_s in length "
                                      "units (e.g. 1.25 cells = 1.25 * box / shape): the mesh gives the "
                                      "long-range force of a TreePM/P3M split")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict) and "scheme" in data:
            if "window" in data:
                raise ValueError("give solver.window only (solver.scheme is its older name)")
            import warnings

            warnings.warn("config key solver.scheme is now solver.window", FutureWarning, stacklevel=2)
            data = {("window" if k == "scheme" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _kernel(self):
        if self.kernel is not None:
            allowed = _kernel_names("periodic") + _kernel_names("free")
            if self.kernel not in allowed:
                raise ValueError(f"kernel = {self.kernel!r} is unknown; allowed: {', '.join(allowed)}")
        return self

    def pm_settings(self) -> dict:
        """Keyword arguments of fieldsolve.pm.ParticleMesh (null keys left to its defaults)."""
        keys = ("window", "kernel", "gradient", "deconvolve", "interlace", "split")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def particle_mesh(self, grid):
        """The :class:`fieldsolve.pm.ParticleMesh` of these settings on ``grid`` (or a
        decomposition). Its warnings about poor settings (:func:`fieldsolve.pm.pitfalls`) are
        not repeated on stderr: the run's preflight has them as notes, in the log."""
        import warnings

        from ..pm import ParticleMesh

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*without a split", RuntimeWarning)
            return ParticleMesh(grid, **self.pm_settings())


class TimeConfig(_Base):
    """Leapfrog kick-drift-kick time stepping."""
    dt: PosFloat = Field(description="time step (the maximum step when cfl is set)")
    t_end: Optional[PosFloat] = Field(None, description="end time (give t_end or steps)")
    steps: Optional[PosInt] = Field(None, description="number of steps (give t_end or steps)")
    cfl: Optional[PosFloat] = Field(None, description="if set, dt = min(dt, cfl * h_min / max|v|)")

    @model_validator(mode="after")
    def _end(self):
        if (self.t_end is None) == (self.steps is None):
            raise ValueError(f"t_end = {self.t_end} and steps = {self.steps}: give exactly one of them")
        if self.steps is not None and self.cfl is not None:
            raise ValueError("cfl needs t_end, not steps (the step count is not known in advance)")
        return self


class OutputConfig(_Base):
    """openPMD snapshots, plots, time series."""
    every: PosInt = Field(10, description="write a snapshot every this many steps (and at step 0 and the end)")
    fields: list[FieldName] = Field(["density", "potential", "field"], description="mesh records to write")
    particles: Bool = Field(True, description="write particle positions/velocities/ids")
    dtype: Literal["float32", "float64"] = Field("float32", description="precision of snapshot arrays")
    plots: Bool = Field(True, description="write PNG plots at the end of the run")
    gadget: Bool = Field(False, description="nbody, 3-D: also write Gadget-HDF5 particle snapshots "
                         "(diags/gadget/snap_%06d.hdf5) for yt's gadget_hdf5 frontend, pynbody, nbodykit")


class CheckpointConfig(_Base):
    """float64 restart files holding the full state."""
    every: Optional[PosInt] = Field(None, description="checkpoint every this many steps (null: only at "
                                    "the end and on SIGINT/SIGTERM)")
    keep_last: PosInt = Field(2, description="number of checkpoints kept")


# --------------------------------------------------------------------------------------------
# initial conditions (nbody)
# --------------------------------------------------------------------------------------------
class PlummerIC(_Base):
    """Plummer sphere with equilibrium (isotropic) velocities, Aarseth-Henon-Wielen sampling."""
    kind: Literal["plummer"]
    n_particles: PosInt
    total_mass: PosFloat = 1.0
    scale_radius: PosFloat = 1.0
    r_max: PosFloat = Field(10.0, description="truncation radius in units of scale_radius")
    center: Optional[list[Float]] = Field(None, description="centre (default: box centre)")
    virialize: Bool = Field(True, description="rescale the velocities so that 2K = |W| with W the "
                            "potential energy of the sample in the simulated (truncated, mesh) potential")


class UniformSphereIC(_Base):
    """Uniform-density sphere, optionally with isotropic Gaussian velocities (cold collapse)."""
    kind: Literal["uniform_sphere"]
    n_particles: PosInt
    total_mass: PosFloat = 1.0
    radius: PosFloat = 1.0
    virial_ratio: NonNegFloat = Field(0.0, description="2K/|W| of the initial state (0 = cold)")
    center: Optional[list[Float]] = None


class ZeldovichIC(_Base):
    """Particle lattice displaced by one planar sine wave, from rest, on a periodic grid:
    x = q + A sin(k q_axis) e_axis, with k = 2 pi mode / L_axis."""
    kind: Literal["zeldovich"]
    particles_per_axis: list[PosInt] = Field(description="lattice size per axis")
    amplitude: PosFloat = Field(description="displacement amplitude A (must satisfy A k < 1)")
    mode: PosInt = 1
    axis: NonNegInt = 0
    mean_density: PosFloat = 1.0


class FileIC(_Base):
    """Particles from an HDF5 file: a fieldsolve openPMD snapshot/checkpoint, or plain datasets
    ``position`` (N, ndim), ``velocity`` (N, ndim) and ``mass`` (N,) or scalar."""
    kind: Literal["hdf5"]
    path: str
    species: Optional[Name] = Field(None, description="openPMD species (default: the first)")
    iteration: Optional[NonNegInt] = Field(None, description="openPMD iteration (default: the last)")


NBodyIC = Annotated[Union[PlummerIC, UniformSphereIC, ZeldovichIC, FileIC], Field(discriminator="kind")]


class GravityUnits(_Base):
    G: PosFloat = Field(1.0, description="gravitational constant in code units")
    length_si: PosFloat = Field(1.0, description="metres per code length")
    time_si: PosFloat = Field(1.0, description="seconds per code time")
    mass_si: PosFloat = Field(1.0, description="kilograms per code mass")


class PlasmaUnits(_Base):
    epsilon0: PosFloat = Field(1.0, description="vacuum permittivity in code units")
    length_si: PosFloat = 1.0
    time_si: PosFloat = 1.0
    mass_si: PosFloat = 1.0
    charge_si: PosFloat = Field(1.0, description="coulombs per code charge")


def _memory_size(v):
    if v is None:
        return v
    from ..resources import parse_bytes

    return parse_bytes(v)


class ResourcesConfig(_Base):
    """Limits checked before a run starts (see fieldsolve.resources)."""
    max_memory: Annotated[Optional[int], BeforeValidator(_memory_size)] = Field(
        None, description="refuse the run if its estimated peak memory exceeds this many bytes (a number "
        "or a string such as '8 GiB'); null: the memory available on this machine. Set it higher to "
        "run anyway (e.g. with swap), lower to keep headroom")
