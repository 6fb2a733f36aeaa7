"""The run configurations, one model per run type (``kind``): ``nbody``, ``pic``, ``poisson``,
``les``; each checks that its sections fit together (and, through the library, that the solver
settings work on its grid)."""
from __future__ import annotations

import math
import typing
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, TypeAdapter, model_validator

from ..kernels import names as _kernel_names

from .sections import (Bool, CheckpointConfig, Float, GravityUnits, GridConfig, ListOf, Name,
                       NBodyIC, NonNegFloat, NonNegInt, OutputConfig, PlasmaUnits, PlummerIC, PosFloat,
                       PosInt, ResourcesConfig, SolverConfig, TimeConfig, UniformSphereIC, ZeldovichIC,
                       _Base)

class _RunBase(_Base):
    @model_validator(mode="after")
    def _solver(self):
        solver = getattr(self, "solver", None)
        if solver is None:
            return self
        if self.kind == "poisson":
            pm_only = [k for k in ("window", "deconvolve", "interlace", "split")
                       if getattr(solver, k) not in (None, False)]
            if pm_only:
                raise ValueError(f"solver.{pm_only[0]} applies to particle runs (nbody, pic), not "
                                 "kind=poisson; remove it")
        if solver.gradient == "spectral" and not all(self.grid.per_axis("periodic")):
            raise ValueError(f"solver.gradient = 'spectral' needs a periodic grid (grid.periodic = "
                             f"{self.grid.per_axis('periodic')}); use fd2 or fd4")
        if solver.kernel is not None:
            from ..kernels import kernel_names

            per = self.grid.per_axis("periodic")
            kind = "periodic" if all(per) else ("free" if not any(per) else None)
            allowed = kernel_names(kind) if kind else ["zeta", "chat2"]
            if solver.kernel not in allowed:
                raise ValueError(f"solver.kernel = {solver.kernel!r} does not apply to grid.periodic = {per}; "
                                 f"allowed here: {', '.join(allowed)}")
        import warnings

        from ..pm import ParticleMesh
        from ..poisson import PoissonSolver, _default_method

        grid = self.grid.make()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.kind == "poisson":
                    PoissonSolver(grid, solver.kernel, warn_mean=False)
                    _default_method(grid, solver.gradient)
                else:
                    ParticleMesh(grid, **solver.pm_settings())
        except ValueError as exc:
            raise ValueError(f"solver: {exc}") from None
        return self

    name: Optional[Name] = Field(None, description="run name (default: the kind)")
    seed: Optional[NonNegInt] = Field(None, description="random seed; null draws fresh entropy (recorded)")
    threads: Optional[PosInt] = Field(None, description="threads for FFTs and deposit (null: all cores)")
    grid: GridConfig
    output: OutputConfig = OutputConfig()
    resources: ResourcesConfig = ResourcesConfig()


class NBodyConfig(_RunBase):
    """Particle-mesh gravity: periodic (mean density removed) or isolated (free space)."""
    kind: Literal["nbody"]
    units: GravityUnits = GravityUnits()
    solver: SolverConfig = SolverConfig()
    time: TimeConfig
    checkpoint: CheckpointConfig = CheckpointConfig()
    initial: NBodyIC

    @model_validator(mode="after")
    def _consistent(self):
        ic, g = self.initial, self.grid
        nd = g.ndim
        if self.output.gadget and nd != 3:
            raise ValueError(f"output.gadget = true needs a 3-D grid; grid.shape = {g.shape}")
        if isinstance(ic, ZeldovichIC):
            if not all(g.per_axis("periodic")):
                raise ValueError(f"grid.periodic = {g.per_axis('periodic')}: initial.kind=zeldovich needs "
                                 "true on every axis")
            if len(ic.particles_per_axis) != nd:
                raise ValueError(f"initial.particles_per_axis has {len(ic.particles_per_axis)} entries "
                                 f"for a {nd}-D grid")
            if ic.axis >= nd:
                raise ValueError(f"initial.axis = {ic.axis} but the grid has {nd} axes (allowed 0..{nd - 1})")
            k = 2 * math.pi * ic.mode / g.per_axis("box")[ic.axis]
            if ic.amplitude * k >= 1:
                raise ValueError(f"initial.amplitude = {ic.amplitude}: A k = {ic.amplitude * k:.3g} >= 1 "
                                 "means shell crossing at t = 0; need A k < 1")
        if isinstance(ic, (PlummerIC, UniformSphereIC)):
            if nd != 3:
                raise ValueError(f"initial.kind={ic.kind} needs a 3-D grid, grid.shape has {nd} axes")
            if ic.center is not None and len(ic.center) != 3:
                raise ValueError(f"initial.center = {ic.center} has {len(ic.center)} entries; need 3")
            box = g.per_axis("box")
            org = g.per_axis("origin")
            per = g.per_axis("periodic")
            c = ic.center or [o + b / 2 for o, b in zip(org, box)]
            r = ic.r_max * ic.scale_radius if isinstance(ic, PlummerIC) else ic.radius
            for a in range(3):
                if not per[a] and (c[a] - r < org[a] or c[a] + r > org[a] + box[a]):
                    key = "initial.r_max" if isinstance(ic, PlummerIC) else "initial.radius"
                    raise ValueError(f"{key}: the sphere (centre {c[a]:g}, radius {r:g}) leaves the "
                                     f"isolated box [{org[a]:g}, {org[a] + box[a]:g}] on axis {a}")
        return self


# --------------------------------------------------------------------------------------------
# electrostatic PIC
# --------------------------------------------------------------------------------------------
class Perturbation(_Base):
    """Density perturbation n = n0 (1 + amplitude cos(k.x)), k = 2 pi mode / box, made by
    displacing the loaded particles along k (first order)."""
    amplitude: Float = Field(description="relative density amplitude alpha")
    mode: ListOf(NonNegInt, min_length=1, max_length=3) = Field(
        [1], description="mode number along axis 0, or one mode number per axis")


class Species(_Base):
    """One particle species; a uniform density, a drifting Maxwellian, an optional perturbation."""
    name: Name
    charge: Float = Field(description="charge per physical particle (code units)")
    mass: PosFloat = Field(description="mass per physical particle")
    density: PosFloat = Field(1.0, description="mean number density n0")
    n_particles: PosInt = Field(description="number of macro-particles")
    loading: Literal["quiet", "random"] = Field("quiet", description="quiet: regular positions and "
                                                "low-discrepancy velocity quantiles; random: pseudo-random")
    v_th: ListOf(NonNegFloat, min_length=1, max_length=3) = Field(
        [0.0], description="thermal speed (standard deviation), one value or one per axis; 0 = cold")
    drift: ListOf(Float, min_length=1, max_length=3) = Field([0.0], description="drift velocity, one value "
                                                             "(along axis 0) or one per axis")
    perturbation: Optional[Perturbation] = None

    @model_validator(mode="after")
    def _charge(self):
        if self.charge == 0:
            raise ValueError("charge = 0.0: a neutral species feels no field; give a nonzero charge")
        return self


class PICConfig(_RunBase):
    """Electrostatic particle-in-cell on a periodic 1-D/2-D/3-D grid."""
    kind: Literal["pic"]
    units: PlasmaUnits = PlasmaUnits()
    solver: SolverConfig = SolverConfig()
    time: TimeConfig
    checkpoint: CheckpointConfig = CheckpointConfig()
    species: Annotated[list[Species], Field(min_length=1)]
    background: Literal["neutralizing", "none"] = Field(
        "neutralizing", description="uniform background charge cancelling the species' mean charge")

    @model_validator(mode="after")
    def _consistent(self):
        g = self.grid
        nd = g.ndim
        if not all(g.per_axis("periodic")):
            raise ValueError(f"grid.periodic = {g.per_axis('periodic')}: kind=pic needs true on every axis")
        if self.output.gadget:
            raise ValueError("output.gadget = true: the Gadget exporter is for kind=nbody")
        names = [s.name for s in self.species]
        if len(set(names)) != len(names):
            raise ValueError(f"species names must be unique, got {names}")
        for i, s in enumerate(self.species):
            for key in ("v_th", "drift"):
                v = getattr(s, key)
                if len(v) not in (1, nd):
                    raise ValueError(f"species.{i}.{key} = {v} has {len(v)} entries for a {nd}-D grid; "
                                     f"give 1 or {nd}")
            p = s.perturbation
            if p is not None:
                if len(p.mode) not in (1, nd):
                    raise ValueError(f"species.{i}.perturbation.mode = {p.mode} has {len(p.mode)} entries "
                                     f"for a {nd}-D grid; give 1 or {nd}")
                if not any(p.mode):
                    raise ValueError(f"species.{i}.perturbation.mode is all zeros; need a nonzero mode")
        return self


# --------------------------------------------------------------------------------------------
# single Poisson solve
# --------------------------------------------------------------------------------------------
class GaussianSource(_Base):
    """Gaussian density blob ``rho = M (2 pi sigma^2)^(-d/2) exp(-|x-c|^2 / 2 sigma^2)``."""
    kind: Literal["gaussian"]
    mass: PosFloat = 1.0
    sigma: PosFloat = 0.1
    center: Optional[list[Float]] = Field(None, description="default: box centre")


class PlummerSource(_Base):
    """Plummer density rho = 3 M / (4 pi a^3) (1 + r^2/a^2)^(-5/2) (3-D)."""
    kind: Literal["plummer"]
    mass: PosFloat = 1.0
    scale_radius: PosFloat = 0.1
    center: Optional[list[Float]] = None


class FileSource(_Base):
    """Source density from an HDF5 dataset (array of grid.shape, indexed [x, y, z])."""
    kind: Literal["hdf5"]
    path: str
    dataset: str = "density"


PoissonSource = Annotated[Union[GaussianSource, PlummerSource, FileSource], Field(discriminator="kind")]


class PoissonConfig(_RunBase):
    """One Poisson solve lap(phi) = 4 pi G rho of a given source; errors against the analytic
    potential when it is known."""
    kind: Literal["poisson"]
    G: PosFloat = Field(1.0, description="lap(phi) = 4 pi G rho")
    solver: SolverConfig = SolverConfig()
    source: PoissonSource

    @model_validator(mode="after")
    def _consistent(self):
        c = getattr(self.source, "center", None)
        if c is not None and len(c) != self.grid.ndim:
            raise ValueError(f"source.center has {len(c)} entries for a {self.grid.ndim}-D grid")
        if isinstance(self.source, PlummerSource) and self.grid.ndim != 3:
            raise ValueError("source.kind=plummer needs a 3-D grid")
        return self


# --------------------------------------------------------------------------------------------
# a-priori LES
# --------------------------------------------------------------------------------------------
class SyntheticVelocity(_Base):
    """Random divergence-free field with a model spectrum (fieldsolve.synthetic_turbulence);
    the random numbers come from the run's seed."""
    kind: Literal["synthetic"]
    spectrum: Literal["passot_pouquet", "von_karman", "pope"] = "passot_pouquet"
    k_peak: Optional[PosFloat] = Field(None, description="peak wavenumber (angular); default 4 k_min")
    u_rms: PosFloat = 1.0


class FileVelocity(_Base):
    """Velocity ``(ndim, *grid.shape)``, indexed ``[component, x, y, z]``, from an HDF5 dataset."""
    kind: Literal["hdf5"]
    path: str
    dataset: str = "velocity"


LESVelocity = Annotated[Union[SyntheticVelocity, FileVelocity], Field(discriminator="kind")]

FilterKind = Literal[_kernel_names("filter")]


class FilterConfig(_Base):
    """Explicit filter (fieldsolve.make_filter). Width: Pope's Delta (second moment Delta^2/12),
    in physical units (`width`) or in cells of the smallest spacing (`width_cells`)."""
    kind: FilterKind = "gaussian"
    width: Optional[PosFloat] = None
    width_cells: Optional[PosFloat] = None

    @model_validator(mode="after")
    def _width(self):
        if self.width is not None and self.width_cells is not None:
            raise ValueError(f"width = {self.width} and width_cells = {self.width_cells}: give at most one")
        return self

    def make_args(self, grid):
        w = self.width
        if w is None and self.width_cells is not None:
            w = self.width_cells * min(grid.spacing)
        return {"kind": self.kind, **({"width": w} if w is not None else {})}


LESField = Literal["velocity", "filtered_velocity", "stress", "dissipation", "sgs_energy"]


class LESOutput(_Base):
    fields: list[LESField] = Field(["velocity", "filtered_velocity", "stress", "dissipation", "sgs_energy"],
                                   description="mesh records to write")
    dtype: Literal["float32", "float64"] = "float32"
    plots: Bool = True


class LESConfig(_RunBase):
    """A-priori LES analysis (fieldsolve.les.apriori) of a periodic velocity field: filtered
    velocity, exact SGS stress, dissipation, dynamic Smagorinsky coefficient, spectra."""
    kind: Literal["les"]
    velocity: LESVelocity
    filter: FilterConfig
    test_filter: Optional[FilterConfig] = Field(None, description="enables the dynamic Smagorinsky coefficient")
    output: LESOutput = LESOutput()

    @model_validator(mode="after")
    def _consistent(self):
        if not all(self.grid.per_axis("periodic")):
            raise ValueError(f"grid.periodic = {self.grid.per_axis('periodic')}: kind=les needs true on every axis")
        if isinstance(self.velocity, SyntheticVelocity) and self.grid.ndim < 2:
            raise ValueError("grid.shape: velocity.kind=synthetic needs a 2-D or 3-D grid")
        return self


RUN_MODELS = [NBodyConfig, PICConfig, PoissonConfig, LESConfig]
RUN_KINDS = tuple(typing.get_args(m.model_fields["kind"].annotation)[0] for m in RUN_MODELS)


def _config_type():
    return Annotated[Union[tuple(RUN_MODELS)], Field(discriminator="kind")]


_ADAPTER = {}


def _adapter():
    key = tuple(RUN_MODELS)
    if key not in _ADAPTER:
        _ADAPTER.clear()
        _ADAPTER[key] = TypeAdapter(_config_type())
    return _ADAPTER[key]
