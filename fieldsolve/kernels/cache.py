"""An optional on-disk cache of free-space kernel transfer functions (off by default), keyed
by kernel name, options, grid, padding, geometry and dtype; used by
:class:`fieldsolve.PoissonSolver`. Files are written atomically and never deleted."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings

import numpy as np

__all__ = ["set_kernel_cache", "kernel_cache_path", "load", "save"]

_DISK = {"path": None, "set": False}
FORMAT = 2  # bump when the file layout or any kernel's values change


def set_kernel_cache(path):
    """Keep free-space kernel spectra on disk in the directory ``path`` (created when needed);
    ``None`` turns the cache off. Overrides ``$FIELDSOLVE_KERNEL_CACHE``.

    Off by default. With the cache on, a solver whose kernel is given by name (no ``transfer_factor=``)
    on a grid with a free axis looks its float64 spectrum up under a key of kernel name,
    options, grid shape, spacing, periodicity, padding, geometry and dtype, and writes it
    there after computing it (temporary file + rename: readers never see half a file). A file
    that cannot be read, or holds another key or shape, is reported with a ``RuntimeWarning``
    and recomputed (and rewritten). Files are never deleted: the directory is the user's."""
    _DISK["path"] = None if path is None else os.fspath(path)
    _DISK["set"] = True


def kernel_cache_path():
    """The on-disk kernel-spectrum cache directory, or ``None`` when off: the value given to
    :func:`set_kernel_cache`, else ``$FIELDSOLVE_KERNEL_CACHE`` (unset, empty, ``off``,
    ``none`` or ``0``: off)."""
    if _DISK["set"]:
        return _DISK["path"]
    env = os.environ.get("FIELDSOLVE_KERNEL_CACHE", "").strip()
    return None if env.lower() in ("", "off", "none", "0") else env


def _file(key):
    """Path of the cache file for ``key`` (a JSON-able dict), and the key as bytes."""
    data = json.dumps(key, sort_keys=True).encode()
    name = "spectrum-" + hashlib.sha256(data).hexdigest()[:32] + ".npy"
    return os.path.join(kernel_cache_path(), name), data


def load(key, shape):
    """The cached spectrum for ``key``, or ``None`` (missing file; unusable file: warned)."""
    path, data = _file(key)
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as fh:  # two .npy records: the key, then the spectrum
            stored = np.lib.format.read_array(fh, allow_pickle=False)
            if stored.dtype != np.uint8 or stored.tobytes() != data:
                raise ValueError("it holds another kernel (key mismatch)")
            spec = np.lib.format.read_array(fh, allow_pickle=False)
        if spec.shape != shape or spec.dtype != np.float64:
            raise ValueError(f"shape {spec.shape} / dtype {spec.dtype}, expected {shape} float64")
        return spec
    except Exception as exc:  # noqa: BLE001 - a cache must never break a solve
        warnings.warn(f"fieldsolve: ignoring kernel cache file {path!r} ({exc}); recomputing",
                      RuntimeWarning, stacklevel=4)
        return None


def save(key, spec):
    path, data = _file(key)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".spectrum-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.lib.format.write_array(fh, np.frombuffer(data, np.uint8))
                np.lib.format.write_array(fh, np.ascontiguousarray(spec))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        warnings.warn(f"fieldsolve: cannot write the kernel cache in {folder!r} ({exc})",
                      RuntimeWarning, stacklevel=4)
