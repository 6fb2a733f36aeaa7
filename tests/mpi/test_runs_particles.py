"""Particle runs (``nbody``, ``pic``) on P ranks against the same run done serially on rank 0:
every example config, 10 steps. Compared from the float64 checkpoints (particles in id order)
and the time series.

Tolerances: the runs differ only in the order of floating-point sums (deposit into a cell from
particles in another order or from ghost planes, energies summed over ranks), a few ulp per
step, which 10 leapfrog steps of these well-resolved runs do not amplify beyond ~1e-14: positions
to 1e-12 of the box, velocities and accelerations to 1e-12 of their largest value, energies to
1e-12 of the total energy scale. The two-stream run's field is seeded at ~1e-5 of the charge
densities that cancel in it, so its field (and field energy) relative to *itself* differs by
~2e-11: conditioning, not an error; measured on the energy scale it is ~1e-19."""
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import allmax

import fieldsolve as fs

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
EXAMPLES = ["default", "plummer", "zeldovich", "landau_damping", "two_stream"]
SHORT = ["time.steps=10", "time.t_end=null", "output.plots=false"]


@pytest.fixture(scope="module")
def shared_tmp(comm):
    """One temporary folder every rank sees (rank 0's)."""
    return Path(comm.bcast(tempfile.mkdtemp(prefix="fs-mpi-runs-") if comm.Get_rank() == 0 else None))


def _state(run_dir):
    """The last checkpoint's particle arrays in id order and its time series."""
    name = (run_dir / "checkpoints" / "latest").read_text().strip()
    with h5py.File(run_dir / "checkpoints" / name) as f:
        st = {k: f["state"][k][()] for k in f["state"] if k != "timeseries"}
        ts = {k: f["state/timeseries"][k][()] for k in f["state/timeseries"]}
    order = np.argsort(st["id"], kind="stable")
    return {k: v[order] for k, v in st.items()}, ts


def _differences(serial, parallel, box, pic):
    (a, ta), (b, tb) = serial, parallel
    assert np.array_equal(a["id"], b["id"])  # every particle exactly once
    for k in ("mass", "charge", "weighting", "qm"):
        if k in a:
            assert np.array_equal(a[k], b[k]), k  # moved bit for bit
    d = {"position": np.max(np.abs(a["position"] - b["position"])) / box,
         "velocity": np.max(np.abs(a["velocity"] - b["velocity"])) / np.max(np.abs(a["velocity"]))}
    if not pic:
        d["acceleration"] = np.max(np.abs(a["acceleration"] - b["acceleration"])) / np.max(np.abs(a["acceleration"]))
    scale = np.max(np.abs(ta["kinetic_energy"])) + np.max(np.abs(ta["field_energy" if pic else "potential_energy"]))
    for k in ta:
        if k.endswith("energy"):
            d[k] = np.max(np.abs(ta[k] - tb[k])) / scale
    assert np.array_equal(ta["step"], tb["step"]) and np.array_equal(ta["time"], tb["time"])
    return d


@pytest.mark.parametrize("name", EXAMPLES)
def test_run_equals_serial(comm, shared_tmp, name):
    par = shared_tmp / f"{name}-p{comm.Get_size()}"
    res = fs.run(CONFIGS / f"{name}.yaml", out=par, overrides=SHORT, echo=False, progress=False, comm=comm)
    # every rank reports the same global numbers
    finals = comm.allgather({k: v for k, v in res.final.items() if k != "wall_seconds"})
    assert all(f == finals[0] for f in finals)
    err = 0.0
    if comm.Get_rank() == 0:
        from mpi4py import MPI

        ser = shared_tmp / f"{name}-serial"
        if not ser.exists():
            fs.run(CONFIGS / f"{name}.yaml", out=ser, overrides=SHORT, echo=False, progress=False, comm=MPI.COMM_SELF)
        cfg = fs.load_config(CONFIGS / f"{name}.yaml")
        d = _differences(_state(ser), _state(par), max(cfg.grid.make().box), cfg.kind == "pic")
        err = max(d.values())
        print(f"{name} on {comm.Get_size()} ranks:", {k: float(f'{v:.2g}') for k, v in d.items()})
        if comm.Get_size() == 1:
            assert err == 0.0, d  # one rank runs the serial code
    assert allmax(comm, err) <= 1e-12
