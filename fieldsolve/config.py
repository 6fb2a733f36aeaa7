"""Run configurations: YAML -> plain dict -> ``--set`` overrides -> pydantic v2 models.

The models below are the single source of truth for what a run accepts. They forbid unknown
keys (``extra="forbid"``) and use discriminated unions on ``kind`` (run type, initial
conditions, sources). :func:`load_config` reads YAML with a strict loader:

* YAML 1.2 scalars: ``1e-3`` is a float, only ``true``/``false`` are booleans (``no``, ``on``
  stay strings and are then rejected by boolean fields), integers with a leading zero
  (``017``, octal in YAML 1.1) are rejected as ambiguous, and duplicate keys are errors.
* bounded: a config file is at most 1 MiB of UTF-8 text, nested at most 64 levels, with at
  most 20000 keys and values after aliases and merge keys are expanded (each ``*alias`` counts
  its full size), so a hostile file (an alias bomb) is refused in milliseconds; tags other than
  the plain scalar ones (``!!python/...``, ``!!set``, ``!custom``) are refused by name;
* every error is a :class:`ConfigError` whose message names the key path, the bad value and
  what is allowed (the CLI prints it on one line and exits with status 2).
"""
from __future__ import annotations

import contextvars
import hashlib
import json
import math
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError,
                      model_validator)

__all__ = ["ConfigError", "load_config", "parse_config", "load_yaml", "apply_overrides",
           "config_schema", "dump_config", "config_hash", "NBodyConfig", "PICConfig",
           "PoissonConfig", "LESConfig", "RUN_KINDS"]


class ConfigError(ValueError):
    """An invalid configuration or input; the message is one line naming key, value and rule."""


# how an option is spelled in messages: the command line sets this (see fieldsolve.cli)
COMMAND_LINE = contextvars.ContextVar("fieldsolve_command_line", default=False)
_SPELLING = {  # name: (command line, with a value; Python, with a value)
    "overwrite": ("--overwrite", "--overwrite", "overwrite=True", "overwrite=True"),
    "resume": ("--resume DIR", "--resume {}", "resume=True", "resume=True, out={!r}"),
    "force": ("--force", "--force", "force=True", "force=True"),
    "out": ("--out", "--out {}", "out", "out={!r}"),
}


def option(name, value=None) -> str:
    """An option as the user wrote it: ``--overwrite`` on the command line, ``overwrite=True``
    from Python; with a value, e.g. ``--out runs/x`` or ``out='runs/x'``."""
    cli, cli_value, py, py_value = _SPELLING[name]
    if value is None:
        return cli if COMMAND_LINE.get() else py
    return (cli_value if COMMAND_LINE.get() else py_value).format(str(value))


# --------------------------------------------------------------------------------------------
# strict, bounded YAML loading
# --------------------------------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20   # a config file is small; anything larger is the wrong file
MAX_DEPTH = 64               # nesting levels of mappings and lists
MAX_VALUES = 20_000          # keys and values after alias/merge expansion (each *a counts in full)

_YAML = "tag:yaml.org,2002:"
_LEADING_ZERO = "tag:fieldsolve,leadingzero"
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str")} | {_LEADING_ZERO}


class _LeadingZero(str):
    """Marker for an integer literal with a leading zero (``017``)."""


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml's parser when available) with YAML 1.2 core-schema scalars: no
    timestamps, no ``=`` value key, booleans only true/false, no YAML 1.1 octal."""


_DROPPED = {_YAML + t for t in ("bool", "int", "float", "timestamp", "value")}
_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in lst if tag not in _DROPPED]
    for ch, lst in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_YAML + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_StrictLoader.add_implicit_resolver(_YAML + "int",
                                    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
                                    list("-+0123456789"))
_StrictLoader.add_implicit_resolver(_LEADING_ZERO, re.compile(r"^[-+]?0[0-9_]+$"), list("-+0"))
_StrictLoader.add_implicit_resolver(
    _YAML + "float",
    re.compile(r"""^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
               |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+.0123456789"))


def _construct_int(loader, node):
    text = loader.construct_scalar(node).replace("_", "")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


_StrictLoader.add_constructor(_YAML + "int", _construct_int)
_StrictLoader.add_constructor(_LEADING_ZERO, lambda loader, node: _LeadingZero(loader.construct_scalar(node)))


def _path_str(path) -> str:
    return ".".join(str(p) for p in path) if path else "<top level>"


def _octal_hint(text):
    try:
        return f"= {int(text.replace('_', ''), 8)}"
    except ValueError:
        return "invalid octal"


def _short_tag(tag):
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


class _Frame:
    """An open mapping or list while the event stream is read."""
    __slots__ = ("value", "anchor", "start", "key", "keys", "merges")

    def __init__(self, value, anchor, start):
        self.value, self.anchor, self.start = value, anchor, start
        self.key = None      # mapping: the key waiting for its value (or _MERGE)
        self.keys = set()    # mapping: keys given explicitly
        self.merges = []     # mapping: mappings from `<<` keys, in order


_MERGE = object()


class _Builder:
    """Python values straight from the YAML event stream, without building a node graph.

    Iterative (no recursion, so deep nesting cannot overflow a stack) and bounded: nesting
    deeper than :data:`MAX_DEPTH` or more than :data:`MAX_VALUES` values, counting every use of
    an alias (``*a``) or merge key (``<<: *a``) at its full expanded size, is refused as soon
    as it is seen. Aliases share the anchored Python object instead of copying it, so the
    time and memory spent are bounded by the text and the cap.
    """

    def __init__(self, loader, source):
        self.loader, self.source = loader, source
        self.stack = []
        self.anchors = {}     # name -> (value, expanded size); None while the anchor is open
        self.count = 0
        self.root = None

    def fail(self, event, what, key=None):
        path = self.path() + ([key] if key is not None else [])
        if len(path) > 8:
            path = path[:3] + ["..."] + path[-3:]
        where = f"line {event.start_mark.line + 1}" if event is not None else "end of input"
        raise ConfigError(f"{self.source}: {_path_str(path)} ({where}): {what}")

    def path(self):
        out = []
        for f in self.stack:
            if not isinstance(f.value, dict):
                out.append(len(f.value))
            elif f.key is not None:
                out.append("<<" if f.key is _MERGE else f.key)
        return out

    def grow(self, event, n):
        self.count += n
        if self.count > MAX_VALUES:
            self.fail(event, f"more than {MAX_VALUES} keys and values after expanding aliases and "
                      "merge keys; a config is far smaller (an alias bomb?)")

    def run(self):
        get = self.loader.get_event
        event = get()  # StreamStart
        event = get()
        if isinstance(event, yaml.StreamEndEvent):
            return {}
        event = get()  # first event after DocumentStart
        while True:
            self.event(event)
            if not self.stack and self.root is not None:
                break
            event = get()
        get()  # DocumentEnd
        event = get()
        if not isinstance(event, yaml.StreamEndEvent):
            raise ConfigError(f"{self.source}: line {event.start_mark.line + 1}: a second YAML "
                              "document ('---'); a config is one document")
        return self.root[0]

    def event(self, ev):
        top = self.stack[-1] if self.stack else None
        if (top is not None and isinstance(top.value, dict) and top.key is None
                and not isinstance(ev, yaml.MappingEndEvent)):
            return self.mapping_key(top, ev)
        if isinstance(ev, yaml.ScalarEvent):
            self.grow(ev, 1)
            value = self.scalar(ev)
            if ev.anchor is not None:
                self.anchors[ev.anchor] = (value, 1)
            return self.done(value, 1, ev)
        if isinstance(ev, yaml.AliasEvent):
            entry = self.anchors.get(ev.anchor, False)
            if entry is False:
                self.fail(ev, f"alias *{ev.anchor} refers to no anchor &{ev.anchor} defined before it")
            if entry is None:
                self.fail(ev, f"alias *{ev.anchor} refers to a collection that contains it (recursive)")
            self.grow(ev, entry[1])
            return self.done(entry[0], entry[1], ev)
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            mapping = isinstance(ev, yaml.MappingStartEvent)
            self.check_tag(ev, _YAML + ("map" if mapping else "seq"))
            if len(self.stack) >= MAX_DEPTH:
                self.fail(ev, f"nested more than {MAX_DEPTH} levels deep; configs need a few levels")
            self.grow(ev, 1)
            self.stack.append(_Frame({} if mapping else [], ev.anchor, self.count - 1))
            if ev.anchor is not None:
                self.anchors[ev.anchor] = None
            return None
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            f = self.stack.pop()
            value = f.value
            if f.merges:  # keys given explicitly win, then the earlier merged mapping
                merged = {}
                for m in reversed(f.merges):
                    merged.update(m)
                merged.update(value)
                value = merged
            size = self.count - f.start
            if f.anchor is not None:
                self.anchors[f.anchor] = (value, size)
            return self.done(value, size, ev)
        self.fail(ev, f"unexpected YAML event {type(ev).__name__}")

    def mapping_key(self, top, ev):
        if not isinstance(ev, yaml.ScalarEvent):
            self.fail(ev, "a key must be a plain string, not a list, mapping or alias")
        self.grow(ev, 1)
        tag = self.tag(ev)
        if tag == _YAML + "merge":
            top.key = _MERGE
            return None
        key = self.scalar(ev, tag)
        if not isinstance(key, str):
            self.fail(ev, f"key {key!r} must be a string", key)
        if key in top.keys:
            self.fail(ev, f"duplicate key {key!r}; each key may appear once", key)
        top.keys.add(key)
        top.key = key
        return None

    def done(self, value, size, ev):
        if not self.stack:
            self.root = (value,)
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _MERGE:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in items):
                self.fail(ev, "a merge key '<<' takes a mapping or a list of mappings")
            top.merges.extend(items)
            top.key = None
        else:
            top.value[top.key] = value
            top.key = None

    def tag(self, ev):
        if ev.tag is None or ev.tag == "!":
            return self.loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
        return ev.tag

    def check_tag(self, ev, default):
        tag = ev.tag
        if tag is None or tag == "!" or tag == default:
            return
        if tag.startswith(_YAML + "python/"):
            self.fail(ev, f"tag {_short_tag(tag)} is refused: Python object tags are never "
                      "constructed; a config holds mappings, lists and plain scalars")
        self.fail(ev, f"tag {_short_tag(tag)} is not allowed here; allowed: plain mappings, lists and "
                  "scalars (optionally tagged !!str, !!int, !!float, !!bool, !!null)")

    def scalar(self, ev, tag=None):
        tag = tag or self.tag(ev)
        if tag not in _SCALAR_TAGS:
            self.check_tag(ev, None)
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
        try:
            value = self.loader.yaml_constructors[tag](self.loader, node)
        except (ValueError, yaml.YAMLError):
            self.fail(ev, f"{ev.value!r} is not a valid {_short_tag(tag)}")
        if isinstance(value, _LeadingZero):
            self.fail(ev, f"{str(value)!r} has a leading zero, which YAML 1.1 reads as octal "
                      f"({_octal_hint(value)}); write it without the leading zero, or as 0o17 if "
                      "octal is meant")
        return value


def decode_config_bytes(data: bytes, source: str) -> str:
    """Config file bytes as text: bounded in size, UTF-8 (a BOM is allowed), no binary data."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES >> 20} MiB; a config is a small "
                          "YAML file (is this the right file?)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ConfigError(f"{source}: binary data (a NUL byte at offset {nul}), not a YAML text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                          "save the config as UTF-8") from None


def read_config_text(path) -> str:
    """The text of a config file, refused with a one-line :class:`ConfigError` if it is a
    directory, unreadable, over :data:`MAX_CONFIG_BYTES`, binary or not UTF-8."""
    path = Path(path)
    if path.is_dir():
        hint = (" (a run directory: continue it with `fieldsolve run --resume DIR`)"
                if (path / "config.resolved.yaml").exists() else "")
        raise ConfigError(f"{path}: is a directory, not a YAML config file{hint}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    return decode_config_bytes(data, str(path))


def load_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text with the strict, bounded loader (see :class:`_Builder`)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: longer than {MAX_CONFIG_BYTES >> 20} MiB; a config is a small YAML text")
    if "\x00" in text:
        raise ConfigError(f"{source}: contains NUL characters (binary data), not YAML text")
    loader = _StrictLoader(text)
    try:
        return _Builder(loader, source).run()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        raise ConfigError(f"{source}:{where} not valid YAML ({problem})") from None
    finally:
        loader.dispose()


def parse_scalar(text: str) -> Any:
    """A ``--set`` value: parsed as a YAML scalar/flow value with the strict loader."""
    return load_yaml(text, source="--set value") if text.strip() else ""


def apply_overrides(data: dict, overrides) -> dict:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a nested dict copy."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        key, text = item.split("=", 1)
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"--set {item!r}: empty key component in {key!r}")
        try:
            value = parse_scalar(text)
        except ConfigError as exc:
            raise ConfigError(f"--set {key.strip()}: {str(exc).split(': ', 1)[-1]}") from None
        node = data
        for i, p in enumerate(parts[:-1]):
            if isinstance(node, list):
                if not p.isdigit() or int(p) >= len(node):
                    raise ConfigError(f"--set {item!r}: {_path_str(parts[:i + 1])} is not an index of a "
                                      f"list of {len(node)}")
                node = node[int(p)]
            elif isinstance(node, dict):
                if node.get(p) is None:
                    node[p] = {}
                node = node[p]
            else:
                raise ConfigError(f"--set {item!r}: {_path_str(parts[:i])} = {node!r} is not a section")
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(f"--set {item!r}: {last!r} is not an index of a list of {len(node)}")
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"--set {item!r}: {_path_str(parts[:-1])} = {node!r} is not a section")
    return data


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
Scheme = Literal["ngp", "cic", "tsc", "pcs"]
Gradient = Literal["spectral", "fd2", "fd4"]
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
        from .grid import Grid

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
    scheme: Optional[Scheme] = Field(None, description="particle assignment window for deposit and "
                                     "readout; null = tsc")
    deconvolve: Bool = Field(False, description="divide the Green's function by W(k)^2 (use with split; "
                             "not with kernel optimal, which has it built in)")
    interlace: Bool = Field(False, description="interlaced deposit and readout (periodic grids)")
    split: Optional[PosFloat] = Field(None, description="Gaussian long/short split radius r_s in length "
                                      "units (e.g. 1.25 cells = 1.25 * box / shape): the mesh gives the "
                                      "long-range force of a TreePM/P3M split")

    @model_validator(mode="after")
    def _kernel(self):
        if self.kernel is not None:
            allowed = _poisson_kernels()
            if allowed is not None and self.kernel not in allowed:
                raise ValueError(f"kernel = {self.kernel!r} is unknown; allowed: {', '.join(allowed)}")
        return self

    def pm_settings(self) -> dict:
        """Keyword arguments of fieldsolve.pm.ParticleMesh (null keys left to its defaults)."""
        keys = ("scheme", "kernel", "gradient", "deconvolve", "interlace", "split")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def _poisson_kernels():
    try:
        from .kernels import kernel_names
    except ImportError:
        return None
    return tuple(kernel_names())


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
    from .resources import parse_bytes

    return parse_bytes(v)


class ResourcesConfig(_Base):
    """Limits checked before a run starts (see fieldsolve.resources)."""
    max_memory: Annotated[Optional[int], BeforeValidator(_memory_size)] = Field(
        None, description="refuse the run if its estimated peak memory exceeds this many bytes (a number "
        "or a string such as '8 GiB'); null: the memory available on this machine. Set it higher to "
        "run anyway (e.g. with swap), lower to keep headroom")


class _RunBase(_Base):
    @model_validator(mode="after")
    def _solver(self):
        solver = getattr(self, "solver", None)
        if solver is None:
            return self
        if self.kind == "poisson":
            pm_only = [k for k in ("scheme", "deconvolve", "interlace", "split")
                       if getattr(solver, k) not in (None, False)]
            if pm_only:
                raise ValueError(f"solver.{pm_only[0]} applies to particle runs (nbody, pic), not "
                                 "kind=poisson; remove it")
        if solver.gradient == "spectral" and not all(self.grid.per_axis("periodic")):
            raise ValueError(f"solver.gradient = 'spectral' needs a periodic grid (grid.periodic = "
                             f"{self.grid.per_axis('periodic')}); use fd2 or fd4")
        if solver.kernel is not None:
            from .kernels import kernel_names

            per = self.grid.per_axis("periodic")
            kind = "periodic" if all(per) else ("free" if not any(per) else None)
            allowed = kernel_names(kind) if kind else ["zeta", "chat2"]
            if solver.kernel not in allowed:
                raise ValueError(f"solver.kernel = {solver.kernel!r} does not apply to grid.periodic = {per}; "
                                 f"allowed here: {', '.join(allowed)}")
        import warnings

        from .pm import ParticleMesh
        from .poisson import PoissonSolver, _default_method

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
    """Gaussian density blob rho = M (2 pi sigma^2)^(-d/2) exp(-|x-c|^2 / 2 sigma^2)."""
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
    """Velocity (ndim, *grid.shape), indexed [component, x, y, z], from an HDF5 dataset."""
    kind: Literal["hdf5"]
    path: str
    dataset: str = "velocity"


LESVelocity = Annotated[Union[SyntheticVelocity, FileVelocity], Field(discriminator="kind")]

FilterKind = Literal["sharp", "gaussian", "box", "trapezoid", "simpson", "sg3", "sg5_box", "sg5_gaussian"]


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


# --------------------------------------------------------------------------------------------
# error formatting
# --------------------------------------------------------------------------------------------
def _unwrap(tp):
    """Strip Optional/Annotated; return (base type, discriminated members or None)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models and len(models) == len(args) and len(models) > 1:
                return None, models
            if len(args) == 1:
                tp = args[0]
                continue
            # scalar-or-list unions: prefer a model, then a list
            lists = [a for a in args if typing.get_origin(a) is list]
            tp = models[0] if models else (lists[0] if lists else args[0])
            continue
        return tp, None


def _tag(model):
    f = model.model_fields.get("kind")
    return typing.get_args(f.annotation)[0] if f is not None else None


def _walk(loc):
    """Follow a pydantic loc through the config models; return (clean path, model at the end)."""
    tp = _config_type()
    clean = []
    model = None
    i = 0
    while True:
        base, members = _unwrap(tp)
        if members is not None:
            if i < len(loc) and any(_tag(m) == loc[i] for m in members):
                model = next(m for m in members if _tag(m) == loc[i])
                tp = model
                i += 1
                continue
            return clean + list(loc[i:]), None
        if i >= len(loc):
            return clean, base if isinstance(base, type) and issubclass(base, BaseModel) else None
        part = loc[i]
        if isinstance(base, type) and issubclass(base, BaseModel):
            model = base
            if part in base.model_fields:
                tp = base.model_fields[part].annotation
                clean.append(part)
                i += 1
                continue
            return clean + list(loc[i:]), base
        if typing.get_origin(base) is list and isinstance(part, int):
            tp = typing.get_args(base)[0]
            clean.append(part)
            i += 1
            continue
        return clean + list(loc[i:]), None


def _lookup(data, path):
    node = data
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _short(v, n=60):
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _format_error(err, data) -> str:
    loc = tuple(err["loc"])
    etype = err["type"]
    if etype in ("union_tag_invalid", "union_tag_not_found"):
        path, _ = _walk(loc)
        ctx = err.get("ctx") or {}
        key = _path_str(path + ["kind"])
        if etype == "union_tag_not_found":
            return f"{key}: missing; allowed: {ctx.get('expected_tags', '')}".rstrip() if ctx.get(
                "expected_tags") else f"{key}: missing (the run/initial/source type must be given)"
        return f"{key} = {ctx.get('tag')!r} is unknown; allowed: {ctx.get('expected_tags')}"
    path, model = _walk(loc)
    key = _path_str(path)
    if etype == "extra_forbidden":
        parent, pmodel = _walk(loc[:-1])
        allowed = ", ".join(pmodel.model_fields) if pmodel is not None else "see `fieldsolve schema`"
        return f"{key}: unknown key {str(loc[-1])!r} (= {_short(err.get('input'))}); allowed keys here: {allowed}"
    if etype == "missing":
        return f"{key}: required key is missing"
    value = err.get("input")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if etype == "value_error" and isinstance(value, dict):
        if path and msg.startswith(key + "."):
            return msg
        m = re.match(r"^(\w+) = ", msg)
        if m and model is not None and m.group(1) in model.model_fields:
            return f"{key}.{msg}" if path else msg
        return f"{key}: {msg}" if path else msg
    if path and path[-1] == 0 and not isinstance(_lookup(data, path[:-1]), list):
        key = _path_str(path[:-1])  # a scalar given where a per-axis list is accepted
    return f"{key} = {_short(value)}: {msg}"


def _validate(data: dict):
    if not isinstance(data, dict):
        raise ConfigError(f"<top level>: the config must be a mapping of keys, got {_short(data)}")
    if "kind" not in data:
        raise ConfigError(f"kind: required key is missing; allowed: {', '.join(RUN_KINDS)}")
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        errors = exc.errors()
        msgs = [_format_error(e, data) for e in errors]
        more = f" (and {len(msgs) - 1} more: {'; '.join(msgs[1:3])})" if len(msgs) > 1 else ""
        raise ConfigError(msgs[0] + more) from None


def parse_config(data, overrides=()):
    """Validate a plain dict (after ``--set`` overrides) into a config model."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return _validate(apply_overrides(data, overrides))


def names_a_file(source) -> bool:
    """A ``Path`` always names a file; a string does when it is one line and ends in
    .yaml/.yml/.json or exists (otherwise it is YAML text)."""
    if isinstance(source, Path):
        return True
    if "\n" in source or "\x00" in source:
        return False
    try:
        path = Path(source)
        return path.suffix in (".yaml", ".yml", ".json") or path.exists()
    except (OSError, ValueError):  # e.g. a one-line YAML text longer than a file name may be
        return False


def load_config(source, overrides=()):
    """Load a config from a YAML path (a ``Path``, or a string naming a file), YAML text, a dict
    or a model; apply overrides; validate. Files are read with :func:`read_config_text`."""
    if isinstance(source, BaseModel) and not overrides:
        return source
    if isinstance(source, (dict, BaseModel)):
        return parse_config(source, overrides)
    if names_a_file(source):
        data = load_yaml(read_config_text(source), source=str(source))
    else:
        data = load_yaml(str(source))
    return parse_config(data, overrides)


def dump_config(cfg) -> str:
    """Resolved config (defaults included) as YAML text."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, default_flow_style=None)


def config_hash(cfg) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


_JSON_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _standard_keywords(node):
    """pydantic writes gt/ge for constraints that follow a BeforeValidator; use JSON-schema names."""
    if isinstance(node, dict):
        return {(_JSON_BOUNDS.get(k, k) if not isinstance(v, (dict, list)) else k): _standard_keywords(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_standard_keywords(v) for v in node]
    return node


def _type_str(p, defs):
    if "$ref" in p:
        return p["$ref"].split("/")[-1]
    if "const" in p:
        return repr(p["const"])
    if "enum" in p:
        return " \\| ".join(repr(e) for e in p["enum"])
    if "anyOf" in p or "oneOf" in p:
        return " \\| ".join(_type_str(q, defs) for q in p.get("anyOf", p.get("oneOf")))
    t = p.get("type", "any")
    if t == "array":
        inner = _type_str(p.get("items", {}), defs)
        n = (f", {p['minItems']}-{p['maxItems']} items" if "minItems" in p and "maxItems" in p
             else f", >= {p['minItems']} items" if "minItems" in p else "")
        return f"list of {inner}{n}"
    bounds = [f"{sym} {p[k]}" for k, sym in (("exclusiveMinimum", ">"), ("minimum", ">="),
                                             ("exclusiveMaximum", "<"), ("maximum", "<="))
              if k in p]
    if "pattern" in p:
        bounds.append(f"matching `{p['pattern']}`")
    return t + (f" ({', '.join(bounds)})" if bounds else "")


def config_reference_markdown() -> str:
    """The config reference (one table per section), generated from :func:`config_schema`."""
    schema = config_schema()
    defs = schema["$defs"]
    order = ["NBodyConfig", "PICConfig", "PoissonConfig", "LESConfig"]
    order += sorted(k for k in defs if k not in order)
    lines = []
    for name in order:
        d = defs[name]
        lines.append(f"#### `{name}`")
        lines.append("")
        desc = " ".join(d.get("description", "").split())
        if desc:
            lines.append(desc.replace("``", "`"))
            lines.append("")
        lines.append("| key | type | default | description |")
        lines.append("|---|---|---|---|")
        req = set(d.get("required", []))
        props = d.get("properties", {})
        keys = (["kind"] if "kind" in props else []) + [k for k in props if k != "kind"]
        for key in keys:
            p = props[key]
            default = "**required**" if key in req else f"`{json.dumps(p.get('default'))}`"
            text = " ".join(p.get("description", "").split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_str(p, defs)} | {default} | {text} |")
        lines.append("")
    return "\n".join(lines)


def config_schema() -> dict:
    """JSON schema of the run configuration (all run kinds)."""
    schema = _standard_keywords(_adapter().json_schema())
    schema["title"] = "fieldsolve run configuration"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
