"""The openPMD 1.1.0 fileBased series of a run, written directly with h5py, and its readers.

Layout (one file per iteration, ``fs_%06d.h5``), verified against openPMD_check_h5, yt and
openPMD-viewer:

* root attributes ``openPMD="1.1.0"``, ``openPMDextension=0`` (uint32), ``basePath="/data/%T/"``,
  ``iterationEncoding="fileBased"``, ``iterationFormat="fs_%T.h5"``, ``meshesPath``,
  ``particlesPath``, ``author``, ``software``, ``softwareVersion``, ``date``;
* every string attribute is a **fixed-length** byte string (``numpy.bytes_``), never vlen;
* meshes are stored in C order indexed ``[x, y, z]`` with ``axisLabels = (x, y, z)``,
  cell-centred (``position = 0.5``), ``gridGlobalOffset`` = lower corner of the box;
* a record with components other than x/y/z (a tensor such as ``tau``) is written as one scalar
  record per component (``tau_xx``, ``tau_xy``, ...): openPMD 1.1 defines no tensor record and
  openPMD-viewer reads only x/y/z (r/t) components;
* units: with SI factors (``units``) the records carry the physical ``unitDimension`` and their
  ``unitSI``; a run in normalised code units (every SI factor 1, the default) is written as
  dimensionless (``unitDimension = 0``, ``unitSI = 1``) so that viewers do not label code units
  as SI (yt would show an acceleration of 1 code unit as 1 m/s**2); the physical dimension is
  kept in ``fieldsolve_unitDimension`` and the root attribute ``fieldsolve_units`` is ``code``
  or ``SI``. Particle positions keep the length dimension (yt requires it and always shows
  lengths, like the grid, in metres: read "m" as code length there);
* resolved config and provenance are datasets under ``/fieldsolve/`` (outside ``/data/``).

Files are written atomically and read with one-line errors (:mod:`fieldsolve.files`).
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import h5py
import numpy as np

from .files import atomic_path, atomic_write_text, open_h5, text_dataset as _text_dataset
from .files import ascii_attr as _s

__all__ = ["write_iteration", "write_pmd_index", "read_mesh", "read_particles", "list_iterations",
           "UNIT_DIMENSION", "AXIS_LABELS"]

AXIS_LABELS = ("x", "y", "z")
FILE_FORMAT = "fs_%T.h5"

# powers of (L, M, T, I, theta, N, J)
UNIT_DIMENSION = {
    "length": (1, 0, 0, 0, 0, 0, 0),
    "velocity": (1, 0, -1, 0, 0, 0, 0),
    "acceleration": (1, 0, -2, 0, 0, 0, 0),
    "grav_potential": (2, 0, -2, 0, 0, 0, 0),
    "mass": (0, 1, 0, 0, 0, 0, 0),
    "mass_density": (-3, 1, 0, 0, 0, 0, 0),
    "number_density": (-3, 0, 0, 0, 0, 0, 0),
    "charge": (0, 0, 1, 1, 0, 0, 0),
    "charge_density": (-3, 0, 1, 1, 0, 0, 0),
    "electric_potential": (2, 1, -3, -1, 0, 0, 0),
    "electric_field": (1, 1, -3, -1, 0, 0, 0),
    "dimensionless": (0, 0, 0, 0, 0, 0, 0),
}


def _now_openpmd() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


# --------------------------------------------------------------------------------------------
# openPMD writer
# --------------------------------------------------------------------------------------------
def _root_attrs(f, has_meshes, has_particles, *, software_version, config_sha=None, comment=None):
    f.attrs["openPMD"] = _s("1.1.0")
    f.attrs["openPMDextension"] = np.uint32(0)
    f.attrs["basePath"] = _s("/data/%T/")
    f.attrs["iterationEncoding"] = _s("fileBased")
    f.attrs["iterationFormat"] = _s(FILE_FORMAT)
    if has_meshes:
        f.attrs["meshesPath"] = _s("meshes/")
    if has_particles:
        f.attrs["particlesPath"] = _s("particles/")
    f.attrs["author"] = _s(os.environ.get("USER", "fieldsolve user") or "fieldsolve user")
    f.attrs["software"] = _s("fieldsolve")
    f.attrs["softwareVersion"] = _s(software_version)
    f.attrs["date"] = _s(_now_openpmd())
    import h5py as _h5

    f.attrs["softwareDependencies"] = _s(f"numpy@{np.__version__};h5py@{_h5.__version__};"
                                         f"hdf5@{_h5.version.hdf5_version}")
    if config_sha:
        f.attrs["fieldsolve_config_sha256"] = _s(config_sha)
    if comment:
        f.attrs["comment"] = _s(comment)


def _unit_dimension(obj, unit_dimension, code_units):
    udim = np.array(unit_dimension, dtype=np.float64)
    if code_units:
        obj.attrs["unitDimension"] = np.zeros(7)
        obj.attrs["fieldsolve_unitDimension"] = udim
    else:
        obj.attrs["unitDimension"] = udim


def _mesh_record_attrs(obj, grid, unit_dimension, length_si, code_units):
    nd = grid.ndim
    obj.attrs["geometry"] = _s("cartesian")
    obj.attrs["dataOrder"] = _s("C")
    obj.attrs["axisLabels"] = np.array([_s(a) for a in AXIS_LABELS[:nd]])
    obj.attrs["gridSpacing"] = np.array(grid.spacing, dtype=np.float64)
    obj.attrs["gridGlobalOffset"] = np.array(grid.origin, dtype=np.float64)
    obj.attrs["gridUnitSI"] = np.float64(length_si)
    _unit_dimension(obj, unit_dimension, code_units)
    obj.attrs["timeOffset"] = np.float64(0.0)


def _mesh_component_attrs(ds, grid, unit_si):
    ds.attrs["unitSI"] = np.float64(unit_si)
    ds.attrs["position"] = np.full(grid.ndim, 0.5, dtype=np.float64)


def _write_meshes(group, grid, meshes, dtype, length_si, code_units):
    def scalar(name, data, udim, usi):
        ds = group.create_dataset(name, data=data.astype(dtype, copy=False))
        _mesh_record_attrs(ds, grid, udim, length_si, code_units)
        _mesh_component_attrs(ds, grid, usi)

    for name, spec in meshes.items():
        data, udim, usi = spec["data"], spec["unit_dimension"], spec.get("unit_si", 1.0)
        data = np.asarray(data)
        comps = spec.get("components")
        if comps is None and data.shape == (grid.ndim,) + grid.shape:
            comps = AXIS_LABELS[:grid.ndim]
        if comps is None and data.shape == grid.shape:
            scalar(name, data, udim, usi)
        elif comps is not None and data.shape == (len(comps),) + grid.shape:
            if not set(comps) <= set(AXIS_LABELS):  # tensor: one scalar record per component
                for c, comp in enumerate(comps):
                    scalar(f"{name}_{comp}", data[c], udim, usi)
                continue
            rec = group.create_group(name)
            _mesh_record_attrs(rec, grid, udim, length_si, code_units)
            for c, comp in enumerate(comps):
                ds = rec.create_dataset(comp, data=data[c].astype(dtype, copy=False))
                _mesh_component_attrs(ds, grid, usi)
        else:
            raise ValueError(f"mesh {name!r} has shape {data.shape}; expected {grid.shape}, "
                             f"({grid.ndim}, *{grid.shape}) or (len(components), *{grid.shape})")


def _record_attrs(obj, unit_dimension, code_units=False):
    _unit_dimension(obj, unit_dimension, code_units)
    obj.attrs["timeOffset"] = np.float64(0.0)


def _constant_component(group, name, value, n, unit_si):
    g = group.create_group(name)
    g.attrs["value"] = value
    g.attrs["shape"] = np.array([n], dtype=np.uint64)
    g.attrs["unitSI"] = np.float64(unit_si)
    return g


def _write_species(group, name, sp, grid, dtype, units, code_units):
    """sp: dict with position (N, nd), velocity (N, nd), id (N,), and optional scalar or (N,)
    records mass / charge / weighting."""
    s = group.create_group(name)
    x = np.asarray(sp["position"])
    n, nd = x.shape
    labels = AXIS_LABELS[:nd]
    pos = s.create_group("position")
    # positions keep the length dimension even in code units: yt requires it (its particle
    # positions and domain are always in metres, gridUnitSI), so lengths read as "m" there
    _record_attrs(pos, UNIT_DIMENSION["length"])
    off = s.create_group("positionOffset")
    _record_attrs(off, UNIT_DIMENSION["length"])
    vel = s.create_group("velocity")
    _record_attrs(vel, UNIT_DIMENSION["velocity"], code_units)
    v = np.asarray(sp["velocity"])
    for a, lab in enumerate(labels):
        d = pos.create_dataset(lab, data=x[:, a].astype(dtype, copy=False))
        d.attrs["unitSI"] = np.float64(units["length"])
        _constant_component(off, lab, np.float64(0.0), n, units["length"])
        d = vel.create_dataset(lab, data=v[:, a].astype(dtype, copy=False))
        d.attrs["unitSI"] = np.float64(units["velocity"])
    ids = s.create_dataset("id", data=np.asarray(sp["id"], dtype=np.uint64))
    _record_attrs(ids, UNIT_DIMENSION["dimensionless"])
    ids.attrs["unitSI"] = np.float64(1.0)
    for rec, udim_key, unit in (("mass", "mass", units["mass"]), ("charge", "charge", units.get("charge", 1.0)),
                                ("weighting", "dimensionless", 1.0)):
        if rec not in sp:
            continue
        val = np.asarray(sp[rec], dtype=np.float64)
        if val.ndim == 0:
            g = _constant_component(s, rec, np.float64(val), n, unit)
            _record_attrs(g, UNIT_DIMENSION[udim_key], code_units)
        else:
            d = s.create_dataset(rec, data=val.astype(dtype, copy=False))
            _record_attrs(d, UNIT_DIMENSION[udim_key], code_units)
            d.attrs["unitSI"] = np.float64(unit)
    # one particle patch covering the whole box
    pp = s.create_group("particlePatches")
    for key in ("numParticles", "numParticlesOffset"):
        d = pp.create_dataset(key, data=np.array([n if key == "numParticles" else 0], dtype=np.uint64))
        d.attrs["unitSI"] = np.float64(1.0)
        _record_attrs(d, UNIT_DIMENSION["dimensionless"])
    for key, vals in (("offset", grid.origin), ("extent", grid.box)):
        g = pp.create_group(key)
        _record_attrs(g, UNIT_DIMENSION["length"])
        for a, lab in enumerate(labels):
            d = g.create_dataset(lab, data=np.array([vals[a]], dtype=np.float64))
            d.attrs["unitSI"] = np.float64(units["length"])


def _put_extras(group, d):
    for name, v in d.items():
        if name.startswith("@"):
            group.attrs[name[1:]] = _s(v) if isinstance(v, str) else v
        elif isinstance(v, dict):
            _put_extras(group.create_group(name), v)
        else:
            group.create_dataset(name, data=v if isinstance(v, np.bytes_) else np.asarray(v))


def write_iteration(directory, iteration, *, time, dt, grid, meshes=None, particles=None,
                    dtype="float32", units=None, config_yaml=None, provenance_json=None,
                    config_sha=None, extras=None, extras_root=False, software_version="0"):
    """Write one openPMD iteration file ``<directory>/fs_<iteration:06d>.h5`` atomically.

    meshes: ``{name: {"data": array, "unit_dimension": 7-tuple, "unit_si": float}}`` with data of
    ``grid.shape`` (scalar record) or ``(ndim, *grid.shape)`` (vector record, components x/y/z),
    or ``(C, *grid.shape)`` with ``"components": [names]``: x/y/z components form one record,
    any others (a symmetric tensor xx, xy, ...) one scalar record ``<name>_<component>`` each.
    particles: ``{species: {"position", "velocity", "id", optional "mass", "charge", "weighting"}}``.
    units: SI factors ``{"length", "time", "velocity", "mass", "charge"}``; all 1 (the default)
    means normalised code units, written as dimensionless (see the module docstring).
    extras: ``{name: array or dict}`` written under ``/fieldsolve/extras/`` (``/fieldsolve/`` with
    ``extras_root=True``), outside ``/data/``; a dict is a group, its ``"@key"`` entries attributes.
    """
    units = {"length": 1.0, "time": 1.0, "velocity": 1.0, "mass": 1.0, "charge": 1.0, **(units or {})}
    code_units = all(float(v) == 1.0 for v in units.values())
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"fs_{int(iteration):06d}.h5"
    dtype = np.dtype(dtype)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _root_attrs(f, bool(meshes), bool(particles), software_version=software_version,
                        config_sha=config_sha)
            f.attrs["fieldsolve_units"] = _s("code" if code_units else "SI")
            it = f.create_group(f"data/{int(iteration)}")
            it.attrs["time"] = np.float64(time)
            it.attrs["dt"] = np.float64(dt)
            it.attrs["timeUnitSI"] = np.float64(units["time"])
            if meshes:
                _write_meshes(it.create_group("meshes"), grid, meshes, dtype, units["length"], code_units)
            if particles:
                pg = it.create_group("particles")
                for name, sp in particles.items():
                    _write_species(pg, name, sp, grid, dtype, units, code_units)
            fs = f.create_group("fieldsolve")
            if config_yaml is not None:
                _text_dataset(fs, "config_yaml", config_yaml)
            if provenance_json is not None:
                _text_dataset(fs, "provenance_json", provenance_json)
            _put_extras(fs if extras_root else fs.create_group("extras"), extras or {})
    return path


def write_pmd_index(directory):
    """The one-line ``fields.pmd`` file that ParaView's openPMD reader opens (newline-terminated)."""
    p = Path(directory) / "fields.pmd"
    atomic_write_text(p, FILE_FORMAT + "\n")
    return p


# --------------------------------------------------------------------------------------------
# readers (honour axisLabels, so files written [z, y, x] by other codes read correctly)
# --------------------------------------------------------------------------------------------
def _decode(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return [x.decode() for x in v]
    return v


def list_iterations(path):
    """Iteration numbers in one openPMD file, or in every ``fs_*.h5`` of a directory."""
    path = Path(path)
    if path.is_dir():
        return sorted(int(p.stem.split("_")[-1]) for p in path.glob("fs_*.h5"))
    with open_h5(path) as f:
        return sorted(int(k) for k in f["data"].keys())


def _iteration_group(f, iteration):
    its = sorted(int(k) for k in f["data"].keys())
    if not its:
        raise ValueError(f"{f.filename}: no iterations under /data/")
    it = its[-1] if iteration is None else int(iteration)
    if it not in its:
        raise ValueError(f"{f.filename}: iteration {it} not found; available {its}")
    return it, f[f"data/{it}"]


def read_mesh(path, name, iteration=None):
    """Read a mesh record as an ``[x, y, z]``-indexed array (vector records: ``(ndim, ...)``).

    Returns ``(data, meta)`` with meta holding spacing, offset, axis labels and time, all in
    x, y, z order regardless of the order stored in the file.
    """
    with open_h5(path) as f:
        it, g = _iteration_group(f, iteration)
        rec = g[_decode(f.attrs.get("meshesPath", b"meshes/")) + name]
        labels = list(_decode(rec.attrs["axisLabels"]))
        order = _decode(rec.attrs.get("dataOrder", b"C"))
        spacing = np.asarray(rec.attrs["gridSpacing"], dtype=float)
        offset = np.asarray(rec.attrs["gridGlobalOffset"], dtype=float)
        # array axis j carries label labels[j] (C order); for "F" the stored array is transposed
        perm = [labels.index(a) for a in AXIS_LABELS[: len(labels)]]

        def fix(arr):
            arr = np.asarray(arr)
            if order == "F":
                arr = arr.T
            return np.transpose(arr, perm)

        if isinstance(rec, h5py.Dataset):
            data = fix(rec[()])
        else:
            comps = [c for c in AXIS_LABELS if c in rec] or sorted(rec.keys())
            data = np.stack([fix(rec[c][()]) for c in comps])
        sp_perm = np.array([labels.index(a) for a in AXIS_LABELS[: len(labels)]])
        meta = {"iteration": it, "time": float(g.attrs["time"]), "labels": list(AXIS_LABELS[: len(labels)]),
                "spacing": spacing[sp_perm], "offset": offset[sp_perm],
                "unit_dimension": np.asarray(rec.attrs.get("fieldsolve_unitDimension", rec.attrs["unitDimension"]))}
    return data, meta


def read_particles(path, species=None, iteration=None):
    """Read one species: dict with position (N, nd), velocity (N, nd), id and mass/charge/weighting."""
    with open_h5(path) as f:
        it, g = _iteration_group(f, iteration)
        pg = g[_decode(f.attrs.get("particlesPath", b"particles/"))]
        names = sorted(pg.keys())
        if not names:
            raise ValueError(f"{path}: iteration {it} has no particle species")
        name = names[0] if species is None else species
        if name not in pg:
            raise ValueError(f"{path}: species {name!r} not found; available {names}")
        s = pg[name]

        def comp(rec, lab):
            c = s[rec][lab]
            if isinstance(c, h5py.Group):
                return np.full(int(c.attrs["shape"][0]), c.attrs["value"], dtype=np.float64)
            return c[()].astype(np.float64)

        labels = [a for a in AXIS_LABELS if a in s["position"]]
        out = {"species": name, "iteration": it, "time": float(g.attrs["time"])}
        out["position"] = np.stack([comp("position", a) + comp("positionOffset", a) for a in labels], axis=1)
        out["velocity"] = np.stack([comp("velocity", a) for a in labels], axis=1) if "velocity" in s else None
        out["id"] = s["id"][()] if "id" in s else None
        n = out["position"].shape[0]
        for rec in ("mass", "charge", "weighting"):
            if rec in s:
                r = s[rec]
                out[rec] = (np.full(n, r.attrs["value"], dtype=np.float64) if isinstance(r, h5py.Group)
                            else r[()].astype(np.float64))
    return out


