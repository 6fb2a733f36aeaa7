"""Differences between the float datasets of two HDF5 files written by the same run type (a
distributed run and its serial twin), each relative to the scale it should be measured on."""
import h5py
import numpy as np


def floats(path):
    """``{dataset path: array}`` of every floating-point dataset in the file."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
            out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def _scale(name, ser):
    """A mesh component against its whole record (a roundoff-sized ``g/y`` of a 1-D problem is
    measured against ``|g|``); an error field (``extras/phi_error``: solution minus analytic,
    ~1e-10 of it) against the solution it is the error of; anything else against itself."""
    parent, _, leaf = name.rpartition("/")
    if "/meshes/" in name and parent.rsplit("/", 1)[-1] != "meshes":
        arrays = [v for k, v in ser.items() if k.rpartition("/")[0] == parent]
    elif leaf.endswith("_error"):
        base = leaf[: -len("_error")]
        arrays = [v for k, v in ser.items() if k.endswith(f"meshes/{base}") or k.endswith(f"{base}_exact")] or [ser[name]]
    else:
        arrays = [ser[name]]
    scale = max(float(np.max(np.abs(a))) for a in arrays)
    return scale if scale > 0 else 1.0


def relative_differences(par_path, ser_path, where=lambda name: True):
    """``{dataset: max|par - ser| / scale}`` for the float datasets ``where`` selects; the two files
    must hold the same datasets with the same shapes and dtypes."""
    par, ser = floats(par_path), floats(ser_path)
    assert sorted(par) == sorted(ser), (par_path, sorted(set(par) ^ set(ser)))
    out = {}
    for name, s in ser.items():
        if not where(name):
            continue
        assert par[name].shape == s.shape and par[name].dtype == s.dtype, name
        out[name] = float(np.max(np.abs(par[name].astype(np.float64) - s), initial=0.0) / _scale(name, ser))
    return out
