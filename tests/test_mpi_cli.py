"""The command line under ``mpiexec``, launched from the serial suite: every example config on 2
ranks, a restart on a different rank count, a failure on every rank, and what serial use must
not do (import mpi4py). The distributed numerics themselves are tested rank by rank in
``tests/mpi``; here the runs are compared with the serial example runs (``example_runs``, the same
shrunk configs) through the files they write:

* time series (particle runs) to 1e-12 of the energy scale (max |kinetic| + max |potential or
  field energy|): measured 2e-15 on 2 ranks (the sums over particles and cells in another order);
* the meshes of every snapshot to 1e-12 of each record's largest value (``h5diff``; measured:
  bitwise isolated, ~1e-15 periodic);
* the particles of a snapshot, gathered on rank 0: the same ids as serial, positions and
  velocities to 1e-12 of the largest component.

Skipped without the ``[mpi]`` extra (``make mpi``)."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import CONFIGS, EXAMPLE_OVERRIDES
from h5diff import floats, relative_differences

MPIEXEC = Path(sys.executable).parent / "mpiexec"
needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or not MPIEXEC.exists(),
                               reason="MPI not installed: run 'make mpi'")
COMMON = ["output.plots=false", "threads=1"]
TOL = 1e-12


def fieldsolve(*args, ranks=None, timeout=300):
    """``[mpiexec -n ranks] python -m fieldsolve *args``; a hang fails the test at ``timeout``."""
    cmd = [sys.executable, "-m", "fieldsolve", *map(str, args)]
    if ranks is not None:
        cmd = [str(MPIEXEC), "-n", str(ranks), *cmd]
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _sets(name, extra=()):
    return [a for o in COMMON + EXAMPLE_OVERRIDES[name] + list(extra) for a in ("--set", o)]


def _compare_timeseries(par, ser):
    a, b = floats(par / "timeseries.h5"), floats(ser / "timeseries.h5")
    assert a.keys() == b.keys()
    pot = "field_energy" if "field_energy" in a else "potential_energy"
    scale = np.max(np.abs(b["kinetic_energy"])) + np.max(np.abs(b[pot]))
    for k in a:
        if k.endswith("energy"):
            assert np.max(np.abs(a[k] - b[k])) <= TOL * scale, k
        elif k in ("time", "dt"):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _compare_snapshots(par, ser):
    files = sorted(p.relative_to(ser) for p in (ser / "diags").rglob("*.h5"))
    assert files and files == sorted(p.relative_to(par) for p in (par / "diags").rglob("*.h5"))
    for rel in files:
        diffs = relative_differences(par / rel, ser / rel, where=lambda name: "/meshes/" in name)
        assert max(diffs.values(), default=0.0) <= TOL, (rel, diffs)
        with h5py.File(par / rel, "r") as fa, h5py.File(ser / rel, "r") as fb:
            ids = []
            fb.visit(lambda n: ids.append(n) if n.endswith("/id") else None)
            for n in ids:  # every particle, gathered on rank 0; the same ones where serial has them
                ia, ib = np.argsort(fa[n][()]), np.argsort(fb[n][()])
                np.testing.assert_array_equal(fa[n][()][ia], fb[n][()][ib], err_msg=n)
                species = n.rpartition("/")[0]
                for rec in ("position", "velocity"):  # each component against the whole vector
                    a, b = ([f[f"{species}/{rec}/{ax}"][()][i] for ax in fb[f"{species}/{rec}"]]
                            for f, i in ((fa, ia), (fb, ib)))
                    assert np.max(np.abs(np.subtract(a, b))) <= TOL * np.max(np.abs(b)), (rel, species, rec)


@needs_mpi
@pytest.mark.parametrize("name", sorted(EXAMPLE_OVERRIDES))
def test_each_example_on_two_ranks(name, example_runs, tmp_path):
    out = tmp_path / name
    plots = ["output.plots=true"] if name == "default" else []  # drawn once, by rank 0
    r = fieldsolve("run", Path(CONFIGS) / f"{name}.yaml", "--out", out, "--no-progress",
                   *_sets(name, plots), ranks=2)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr
    assert "failed" not in r.stdout and "failed" not in (out / "log.txt").read_text()
    if plots:
        assert {p.name for p in (out / "plots").glob("*.png")} >= {"energy.png", "density.png"}
    assert r.stdout.count(f"run in {out}") == 1  # the summary, from rank 0 only
    assert json.loads((out / "provenance.json").read_text())["mpi_size"] == 2
    ser = example_runs[name].run_dir
    if (ser / "timeseries.h5").exists():
        _compare_timeseries(out, ser)
    _compare_snapshots(out, ser)


@needs_mpi
def test_restart_on_three_ranks_from_two(example_runs, tmp_path):
    """Stopped after 2 steps on 2 ranks, resumed on 3: the serial uninterrupted run."""
    out = tmp_path / "default"
    r = fieldsolve("run", Path(CONFIGS) / "default.yaml", "--out", out, "--no-progress", "--stop-after", 2,
                   *_sets("default"), ranks=2)
    assert r.returncode == 0, r.stderr
    assert list((out / "checkpoints" / "parts").glob("*.r00001.h5"))  # written by each rank
    r = fieldsolve("run", "--resume", out, "--no-progress", ranks=3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(f"run in {out}") == 1
    _compare_timeseries(out, example_runs["default"].run_dir)


@needs_mpi
def test_a_failure_ends_every_rank_with_one_line(tmp_path):
    """A step so long that particles leave the isolated box on every rank: exit 1, one line on
    stderr, no hang (the timeout), no traceback."""
    r = fieldsolve("run", Path(CONFIGS) / "default.yaml", "--out", tmp_path / "f", "--no-progress",
                   *_sets("default", ["time.t_end=null", "time.steps=3", "time.dt=50"]), ranks=2, timeout=120)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fieldsolve: failed") and "left the isolated box" in lines[0]


@needs_mpi
def test_a_failure_on_one_rank_ends_every_rank(tmp_path):
    """An unexpected error on rank 1 alone (rank 0 goes on into the next collective): every rank
    is ended (MPI_Abort), exit 1, one line naming the rank; its traceback is in the log."""
    script = tmp_path / "fail_on_rank_1.py"
    script.write_text(f"""import sys
import fieldsolve.runs.particles as rp
from fieldsolve.cli import main
from fieldsolve.parallel import mpi

record = rp._ParticleRun._record

def failing(self, dt):
    if mpi.rank(mpi.world()) == 1 and self.step == 2:
        raise RuntimeError("disk on fire")
    return record(self, dt)

rp._ParticleRun._record = failing
sys.exit(main({["run", str(Path(CONFIGS) / "default.yaml"), "--out", str(tmp_path / "r"), "--no-progress",
                *_sets("default")]!r}))
""")
    cmd = [str(MPIEXEC), "-n", "2", sys.executable, str(script)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"fieldsolve: failed on rank 1: RuntimeError: disk on fire "
                                             f"(details in {tmp_path / 'r' / 'log.txt'})"]
    log = (tmp_path / "r" / "log.txt").read_text()
    assert "ERROR rank 1: run failed: RuntimeError: disk on fire" in log and "Traceback" in log


def test_the_abort_line_waits_until_the_launcher_has_read_it():
    """Before ``Abort`` the failing rank waits until its stderr pipe is empty (the launcher stops
    forwarding once told to abort: a line left in the pipe was lost on a loaded machine), and
    no longer than the timeout when nobody reads."""
    import threading
    import time

    from fieldsolve.parallel.mpi import _wait_forwarded

    r, w = os.pipe()
    try:
        os.write(w, b"fieldsolve: failed on rank 1: ...\n")
        t0 = time.monotonic()
        _wait_forwarded(w, timeout=0.3, settle=0)
        assert time.monotonic() - t0 >= 0.3  # nobody read it: waited the whole timeout
        os.write(w, b"more\n")
        reader = threading.Timer(0.2, lambda: os.read(r, 1 << 16))
        reader.start()
        t0 = time.monotonic()
        _wait_forwarded(w, timeout=30, settle=0)
        waited = time.monotonic() - t0
        reader.join()
        assert 0.15 <= waited < 20  # returned once the reader emptied the pipe, not at the timeout
    finally:
        os.close(r)
        os.close(w)


@needs_mpi
def test_a_config_error_exits_2_on_every_rank(tmp_path):
    """One plane cannot be split over 2 ranks: exit 2, one line, nothing written."""
    r = fieldsolve("run", Path(CONFIGS) / "les_apriori.yaml", "--out", tmp_path / "c", "--set", "grid.shape=[1,16,16]",
                   ranks=2, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be split" in lines[0], r.stderr
    assert not (tmp_path / "c").exists()


def test_validate_reports_memory_per_rank():
    one = fieldsolve("validate", Path(CONFIGS) / "default.yaml")
    four = fieldsolve("validate", Path(CONFIGS) / "default.yaml", "--ranks", 4)
    assert one.returncode == four.returncode == 0, one.stderr + four.stderr
    assert "per rank on 4 MPI ranks" in four.stdout and "particles: 5000 per rank" in four.stdout
    assert "MPI ranks" not in one.stdout
    zero = fieldsolve("validate", Path(CONFIGS) / "default.yaml", "--ranks", 0)
    assert zero.returncode == 2 and zero.stderr.strip() == "fieldsolve: error: --ranks 0: must be >= 1"


def test_serial_use_never_imports_mpi4py(tmp_path):
    """Neither the library nor a serial run imports mpi4py (it would start MPI in every process)."""
    code = ("import sys, fieldsolve as fs; from fieldsolve.runs import run;"
            f"run({str(Path(CONFIGS) / 'poisson_gaussian.yaml')!r}, out={str(tmp_path / 'p')!r}, echo=False,"
            " overrides=['grid.shape=[16,16,16]', 'output.plots=false']);"
            "print('mpi4py' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"
