"""HDF5 and text files of a run, written so that a crash never leaves a half-written file:
atomic replacement, one-line read/write errors, time series, checkpoints, the Gadget export.

Every file is written under a temporary name in the same directory and moved into place with
``os.replace`` (:func:`atomic_path`), so a reader or a crash never sees a half-written file; a
failed write (disk full, file-size limit) raises :class:`WriteError` naming the file. Readers
raise :class:`ReadError` (one line naming the file and the problem) for a missing, non-HDF5,
truncated or incomplete file. The openPMD series lives in :mod:`fieldsolve.openpmd`.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import h5py
import numpy as np

__all__ = ["atomic_path", "atomic_write_text", "open_h5", "ReadError", "WriteError", "TMP_SUFFIX",
           "write_timeseries", "read_timeseries", "write_checkpoint", "read_checkpoint",
           "read_checkpoint_meta", "write_gadget", "ascii_attr", "text_dataset"]

TMP_SUFFIX = ".tmp"


class WriteError(OSError):
    """An output file could not be written (disk full, file-size limit, permissions); any
    previous version of the file is untouched."""


class ReadError(ValueError):
    """An input file is missing, not HDF5, truncated or lacks something; the message is one
    line naming the file and the problem."""


_HDF5_ERRNO = re.compile(r"errno = (\d+), error message = '([^']*)'")


def _reason(exc) -> str:
    """The useful part of an OS or HDF5 error (HDF5 buries errno in a long message)."""
    m = _HDF5_ERRNO.search(str(exc))
    if m:
        return f"{m.group(2)} (errno {m.group(1)})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------------------------
# atomic replacement
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success fsync it and ``os.replace`` it onto
    ``path``; on any exception (including KeyboardInterrupt) remove the temporary file. OS and
    HDF5 write failures are raised as :class:`WriteError` naming ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        # h5py reports a failed write(2) (EFBIG, ENOSPC) while closing as a RuntimeError
        failed_io = isinstance(exc, OSError) or (isinstance(exc, RuntimeError)
                                                 and _HDF5_ERRNO.search(str(exc)))
        if failed_io and not isinstance(exc, WriteError):
            err = WriteError(f"cannot write {path}: {_reason(exc)}")
            m = _HDF5_ERRNO.search(str(exc))
            err.errno = getattr(exc, "errno", None) or (int(m.group(1)) if m else None)
            raise err from exc
        raise


@contextlib.contextmanager
def open_h5(path):
    """Open an HDF5 file for reading; every failure, while opening or while reading inside
    the ``with`` block (truncated data, a missing dataset or attribute), is a :class:`ReadError`."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a directory, not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        if not h5py.is_hdf5(path):
            raise ReadError(f"{path}: not an HDF5 file") from None
        raise ReadError(f"{path}: cannot open ({_reason(exc)}); truncated or damaged?") from None
    try:
        with f:
            yield f
    except ReadError:
        raise
    except (OSError, RuntimeError) as exc:
        raise ReadError(f"{path}: cannot read ({_reason(exc)}); truncated or damaged?") from None
    except KeyError as exc:
        raise ReadError(f"{path}: {str(exc.args[0]) if exc.args else 'a dataset is missing'}") from None


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def ascii_attr(text) -> np.bytes_:
    """A fixed-length ASCII byte-string attribute (what openPMD and its readers expect)."""
    return np.bytes_(str(text).encode("ascii", "replace"))


def text_dataset(group, name, text):
    """A UTF-8 text as a fixed-length byte-string dataset."""
    data = str(text).encode("utf-8")
    group.create_dataset(name, data=np.bytes_(data) if data else np.bytes_(b" "))


def write_gadget(path, position, velocity, ids, mass, *, box, time=0.0, origin=(0.0, 0.0, 0.0)):
    """Optional Gadget-2/3 HDF5 particle snapshot (``Header`` + ``PartType1``), for yt's
    ``gadget_hdf5`` frontend, pynbody, nbodykit, Pylians. Non-cosmological: ``Time`` is the code
    time, ``Redshift = 0``, ``HubbleParam = 1`` (no h factors), velocities as stored (a = 1).
    Positions are shifted by ``-origin`` so they lie in ``[0, BoxSize)``; masses go into
    ``MassTable`` when equal, else into ``Masses``. Units are code units: pass
    ``unit_base={"length": (1.0, "m"), "mass": (1.0, "kg"), "velocity": (1.0, "m/s")}`` (or the
    run's SI factors) to ``yt.load``."""
    x = np.asarray(position, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
    n = x.shape[0]
    m = np.asarray(mass, dtype=np.float64)
    npart = np.zeros(6, dtype=np.uint32)
    npart[1] = n
    table = np.zeros(6)
    equal = m.ndim == 0 or (m.size and np.all(m == m.flat[0]))
    if equal:
        table[1] = float(m.flat[0]) if m.ndim else float(m)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            h = f.create_group("Header")
            h.attrs["NumPart_ThisFile"] = npart
            h.attrs["NumPart_Total"] = npart
            h.attrs["NumPart_Total_HighWord"] = np.zeros(6, dtype=np.uint32)
            h.attrs["MassTable"] = table
            h.attrs["Time"] = np.float64(time)
            h.attrs["Redshift"] = np.float64(0.0)
            h.attrs["BoxSize"] = np.float64(box)
            h.attrs["NumFilesPerSnapshot"] = np.int32(1)
            h.attrs["Omega0"] = np.float64(0.0)
            h.attrs["OmegaLambda"] = np.float64(0.0)
            h.attrs["HubbleParam"] = np.float64(1.0)
            for k in ("Flag_Sfr", "Flag_Cooling", "Flag_StellarAge", "Flag_Metals", "Flag_Feedback"):
                h.attrs[k] = np.int32(0)
            h.attrs["Flag_DoublePrecision"] = np.int32(1)
            p = f.create_group("PartType1")
            p.create_dataset("Coordinates", data=x)
            p.create_dataset("Velocities", data=np.asarray(velocity, dtype=np.float64))
            p.create_dataset("ParticleIDs", data=np.asarray(ids, dtype=np.uint64))
            if not equal:
                p.create_dataset("Masses", data=m)
    return Path(path)


# --------------------------------------------------------------------------------------------
# time series and checkpoints
# --------------------------------------------------------------------------------------------
def write_timeseries(path, columns: dict, attrs=None):
    """Write scalar (or small vector) diagnostics vs step as 1-D/2-D chunked, resizable datasets."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for k, v in (attrs or {}).items():
                f.attrs[k] = ascii_attr(v) if isinstance(v, str) else v
            for name, values in columns.items():
                arr = np.asarray(values)
                if arr.ndim == 0:
                    arr = arr[None]
                maxshape = (None,) + arr.shape[1:]
                chunks = (max(1, min(1024, arr.shape[0])),) + arr.shape[1:] if arr.size else None
                f.create_dataset(name, data=arr, maxshape=maxshape, chunks=chunks or True)
    return Path(path)


def read_timeseries(path) -> dict:
    with open_h5(path) as f:
        return {k: f[k][()] for k in f.keys()}


def write_checkpoint(path, state: dict, meta: dict):
    """Full float64 state: ``state`` holds arrays (or nested dicts of arrays), ``meta`` JSON-able
    scalars/strings (step, time, RNG state as JSON, config hash ...)."""
    import json

    def put(group, d):
        for k, v in d.items():
            if isinstance(v, dict):
                put(group.create_group(k), v)
            else:
                group.create_dataset(k, data=np.asarray(v))

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            put(f.create_group("state"), state)
            text_dataset(f, "meta_json", json.dumps(meta, sort_keys=True))
    return Path(path)


def _meta(f):
    import json

    if "meta_json" not in f:
        raise ReadError(f"{f.filename}: not a fieldsolve checkpoint (no /meta_json)")
    try:
        return json.loads(f["meta_json"][()].decode())
    except (ValueError, AttributeError) as exc:
        raise ReadError(f"{f.filename}: /meta_json is not valid JSON ({exc})") from None


def read_checkpoint_meta(path) -> dict:
    with open_h5(path) as f:
        return _meta(f)


def read_checkpoint(path):
    """``(state, meta)`` of a checkpoint; :class:`ReadError` if it is unreadable or lacks
    ``/state`` or ``/meta_json`` (which state arrays a run needs is checked by the runner)."""
    def get(group):
        out = {}
        for k, v in group.items():
            out[k] = get(v) if isinstance(v, h5py.Group) else v[()]
        return out

    with open_h5(path) as f:
        meta = _meta(f)
        if "state" not in f:
            raise ReadError(f"{path}: not a fieldsolve checkpoint (no /state group)")
        state = get(f["state"])
    return state, meta
