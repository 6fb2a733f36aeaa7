"""Checkpoints written in parallel: every rank writes its particles to its own part file, and
rank 0 writes the checkpoint file itself, whose per-particle datasets are HDF5 *virtual
datasets* joining the parts in rank order (meta data and time series are ordinary datasets).
Readers -- serial :func:`fieldsolve.files.read_checkpoint` included -- see whole arrays, so a
checkpoint written on P ranks resumes on any number of ranks (each keeps the particles it
owns). Part files live in ``checkpoints/parts/`` and are written, like every file, under a
temporary name and renamed; the checkpoint file is written last, after every part exists."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..files import atomic_path, text_dataset

__all__ = ["write", "part_files"]


def part_files(path):
    """The part files of checkpoint ``path`` (for pruning old checkpoints)."""
    path = Path(path)
    return sorted((path.parent / "parts").glob(f"{path.stem}.r*.h5"))


def write(comm, path, state: dict, meta: dict):
    """Write checkpoint ``path`` from every rank's ``state`` (per-particle arrays of the rank's
    particles, plus ``timeseries``, a dict that rank 0's copy provides) and rank 0's ``meta``."""
    import h5py

    path = Path(path)
    rank, size = comm.Get_rank(), comm.Get_size()
    parts = path.parent / "parts"
    if rank == 0:
        parts.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    arrays = {k: np.ascontiguousarray(v) for k, v in state.items() if k != "timeseries"}
    part = parts / f"{path.stem}.r{rank:05d}.h5"
    error = None
    try:
        with atomic_path(part) as tmp:
            with h5py.File(tmp, "w") as f:
                for k, v in arrays.items():
                    f.create_dataset(k, data=v)
    except Exception as exc:  # noqa: BLE001 - reported on every rank below
        error = f"rank {rank}: {exc}"
    errors = [e for e in comm.allgather(error) if e]
    if errors:
        raise OSError(f"cannot write checkpoint part files: {errors[0]}")
    layout = comm.gather({k: (v.shape, v.dtype.str) for k, v in arrays.items()}, root=0)
    error = None
    if rank == 0:
        try:
            _write_main(path, layout, state.get("timeseries", {}), meta, size)
        except Exception as exc:  # noqa: BLE001
            error = exc
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    return path


def _write_main(path, layout, timeseries, meta, size):
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("state")
            for k in layout[0]:
                shapes = [lay[k][0] for lay in layout]
                dtype = np.dtype(layout[0][k][1])
                total = sum(s[0] for s in shapes)
                vl = h5py.VirtualLayout(shape=(total,) + tuple(shapes[0][1:]), dtype=dtype)
                start = 0
                for r, s in enumerate(shapes):
                    if s[0]:
                        # relative to the checkpoint file's folder (HDF5 looks there first)
                        src = h5py.VirtualSource(f"parts/{path.stem}.r{r:05d}.h5", k, shape=s)
                        vl[start:start + s[0]] = src
                    start += s[0]
                g.create_virtual_dataset(k, vl, fillvalue=0)
            ts = g.create_group("timeseries")
            for k, v in timeseries.items():
                ts.create_dataset(k, data=np.asarray(v))
            text_dataset(f, "meta_json", json.dumps({**meta, "mpi_size": size}, sort_keys=True))
