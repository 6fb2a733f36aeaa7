"""Run directories, checkpoints, bitwise restart, signals, and the CLI end to end."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import fieldsolve as fieldsolve_pkg
from fieldsolve.cli import main
from fieldsolve.config import ConfigError
from fieldsolve.files import read_checkpoint, read_timeseries
from fieldsolve.runs import run

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
CHECKER = Path(sys.executable).parent / "openPMD_check_h5"

PIC_SMALL = ["threads=1", "output.plots=false", "species.0.n_particles=4000", "species.1.n_particles=4000",
             "time.t_end=4.0", "time.dt=0.1", "output.every=7", "checkpoint.every=9"]
PLUMMER_SMALL = ["output.plots=false", "initial.n_particles=3000", "grid.shape=[24,24,24]", "time.t_end=1.2",
                 "time.dt=0.05", "output.every=5", "checkpoint.every=4", "checkpoint.keep_last=3"]


def _snapshot_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        f["data"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


@pytest.mark.parametrize("config,overrides,n", [("two_stream.yaml", PIC_SMALL, 17),
                                                 ("plummer.yaml", PLUMMER_SMALL, 11)],
                         ids=["pic", "nbody-isolated"])
def test_restart_is_bitwise_identical(tmp_path, config, overrides, n):
    full = run(CONFIGS / config, out=tmp_path / "full", echo=False, overrides=overrides)
    part = run(CONFIGS / config, out=tmp_path / "part", echo=False, overrides=overrides, stop_after=n)
    assert part.interrupted == "stop_after" and part.steps == n
    assert (tmp_path / "part" / "checkpoints" / "latest").read_text().strip() == f"chk_{n:06d}.h5"
    s_mid, _ = read_checkpoint(part.checkpoint)
    resumed = run(None, out=tmp_path / "part", resume=True, echo=False)
    assert resumed.interrupted is None
    assert resumed.steps == full.steps and resumed.time == full.time
    s_full, m_full = read_checkpoint(full.checkpoint)
    s_res, m_res = read_checkpoint(resumed.checkpoint)
    for key in ("position", "velocity", "acceleration", "mass", "id"):
        assert s_full[key].tobytes() == s_res[key].tobytes(), key
    assert m_full["time_hex"] == m_res["time_hex"] and m_full["rng_state"] == m_res["rng_state"]
    ts_full, ts_res = read_timeseries(full.timeseries), read_timeseries(resumed.timeseries)
    assert ts_full.keys() == ts_res.keys()
    for key in ts_full:
        assert ts_full[key].tobytes() == ts_res[key].tobytes(), key
    names = sorted(p.name for p in (tmp_path / "full" / "diags" / "fields").glob("fs_*.h5"))
    assert names == sorted(p.name for p in (tmp_path / "part" / "diags" / "fields").glob("fs_*.h5"))
    a = _snapshot_arrays(tmp_path / "full" / "diags" / "fields" / names[-1])
    b = _snapshot_arrays(tmp_path / "part" / "diags" / "fields" / names[-1])
    assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
    # the state evolved after the restart, so the equality is not trivial
    assert s_mid["position"].tobytes() != s_res["position"].tobytes()
    chks = sorted((tmp_path / "part" / "checkpoints").glob("chk_*.h5"))
    assert len(chks) <= resumed.config.checkpoint.keep_last


def test_resume_refuses_changed_physics_but_allows_longer_run(tmp_path, capsys):
    out = tmp_path / "r"
    run(CONFIGS / "two_stream.yaml", out=out, echo=False, overrides=PIC_SMALL)
    cfg = tmp_path / "changed.yaml"
    cfg.write_text((CONFIGS / "two_stream.yaml").read_text().replace("drift: -1.0", "drift: -0.9"))
    rc = main(["run", str(cfg), "--resume", str(out), "--no-progress"] + sum((["--set", o] for o in PIC_SMALL), []))
    err = capsys.readouterr().err
    assert rc == 2 and "species" in err and "may change" in err
    # extending t_end is allowed and continues from the last step
    res = run(None, out=out, resume=True, echo=False, overrides=["time.t_end=5.0"])
    assert res.steps == 50 and abs(res.time - 5.0) < 1e-12
    ts = read_timeseries(out / "timeseries.h5")
    np.testing.assert_array_equal(ts["step"], np.arange(51))


def test_out_dir_must_be_empty_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    args = ["run", str(CONFIGS / "zeldovich.yaml"), "--out", str(out), "--set", "output.plots=false"]
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 2  # not a run directory: never deleted
    assert "only replaces a fieldsolve run directory" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"
    out2 = tmp_path / "e"
    assert main(["run", str(CONFIGS / "zeldovich.yaml"), "--out", str(out2), "-q", "--set", "output.plots=false",
                 "--set", "time.t_end=0.05"]) == 0
    assert main(["run", str(CONFIGS / "zeldovich.yaml"), "--out", str(out2), "-q", "--set", "output.plots=false",
                 "--set", "time.t_end=0.05"]) == 2
    assert main(["run", str(CONFIGS / "zeldovich.yaml"), "--out", str(out2), "-q", "--overwrite",
                 "--set", "output.plots=false", "--set", "time.t_end=0.05"]) == 0
    assert main(["run", "--resume", str(tmp_path / "nothing")]) == 2


def test_runtime_failure_exit_1(tmp_path, capsys):
    """A particle leaving an isolated box mid-run is a runtime failure: exit 1, one line, logged."""
    cfg = {"kind": "nbody", "seed": 1, "threads": 1, "grid": {"shape": [16, 16, 16], "box": 4.0, "periodic": False},
           "time": {"dt": 0.5, "steps": 40}, "output": {"plots": False},
           "initial": {"kind": "uniform_sphere", "n_particles": 200, "radius": 1.0, "virial_ratio": 8.0}}
    path = tmp_path / "hot.yaml"
    import yaml

    path.write_text(yaml.safe_dump(cfg))
    rc = main(["run", str(path), "--out", str(tmp_path / "hot"), "-q", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "left the isolated box" in err
    assert "Traceback" in (tmp_path / "hot" / "log.txt").read_text()


def _all_files_complete(run_dir):
    leftovers = [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers
    def read_all(name, obj):
        if isinstance(obj, h5py.Dataset):
            obj[()]

    n = 0
    for p in run_dir.rglob("*.h5"):
        with h5py.File(p, "r") as f:  # opens, and every dataset reads in full
            f.visititems(read_all)
        n += 1
    assert n >= 4
    for p in run_dir.rglob("*.json"):
        json.loads(p.read_text())


def _start(args, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "fieldsolve", "run"] + args, cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=60):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_leaves_only_complete_files_and_resumes(tmp_path, sig, code):
    out = tmp_path / "sig"
    args = [str(CONFIGS / "two_stream.yaml"), "--out", str(out), "--no-progress", "--set", "threads=1",
            "--set", "output.plots=false", "--set", "time.dt=0.01", "--set", "time.t_end=30",
            "--set", "output.every=25", "--set", "species.0.n_particles=2000", "--set", "species.1.n_particles=2000"]
    proc = _start(args, tmp_path)
    _wait_for(out / "diags" / "fields" / "fs_000050.h5", proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert f"stopped ({sig.name})" in stdout and "--resume" in stdout
    _all_files_complete(out)
    step = int((out / "checkpoints" / "latest").read_text().strip()[4:10])
    assert 50 <= step < 3000
    ts = read_timeseries(out / "timeseries.h5")
    assert ts["step"][-1] == step and len(ts["step"]) == step + 1
    # continue to the end, with a shorter end time so the test stays quick
    r = subprocess.run([sys.executable, "-m", "fieldsolve", "run", "--resume", str(out), "--no-progress", "-q",
                        "--set", f"time.t_end={(step + 20) * 0.01}"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ts = read_timeseries(out / "timeseries.h5")
    assert ts["step"][-1] == step + 20 and np.all(np.diff(ts["step"]) == 1)
    _all_files_complete(out)


def test_default_config_end_to_end(tmp_path):
    """What `make run` does (shortened): HDF5 + PNGs + a printed summary; info and plot work."""
    out = tmp_path / "default"
    r = subprocess.run([sys.executable, "-m", "fieldsolve", "run", str(CONFIGS / "default.yaml"), "--out", str(out),
                        "--set", "time.t_end=0.5"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "relative_energy_error" in r.stdout and "plots:" in r.stdout
    assert "step/s" not in r.stderr and "\r" not in r.stderr  # no progress bar when not on a TTY
    for name in ("config.yaml", "config.resolved.yaml", "provenance.json", "log.txt", "timeseries.h5",
                 "diags/fields/fields.pmd", "diags/fields/fs_000000.h5", "diags/fields/fs_000010.h5",
                 "checkpoints/latest", "plots/energy.png", "plots/density.png",
                 "plots/potential.png", "plots/particles.png"):
        assert (out / name).exists(), name
    assert (out / "config.yaml").read_text() == (CONFIGS / "default.yaml").read_text()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 42 and len(prov["config_sha256"]) == 64
    repo = Path(fieldsolve_pkg.__file__).resolve().parents[1]  # the checkout imported from
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    if (repo / ".git").exists() and git.returncode == 0:  # the revision, not None (it looked in fieldsolve/)
        assert prov["git_describe"] and git.stdout.strip() in prov["git_describe"], prov["git_describe"]
    else:
        assert prov["git_describe"] is None
    with h5py.File(out / "diags/fields/fs_000010.h5", "r") as f:
        assert f["fieldsolve/config_yaml"][()].decode() == (out / "config.resolved.yaml").read_text()
        assert f["data/10/meshes/rho"].shape == (48, 48, 48)
        assert f["data/10/particles/dm/position/x"].dtype == np.float32
    if CHECKER.exists():
        c = subprocess.run([str(CHECKER), "-i", str(out / "diags/fields/fs_000010.h5")], capture_output=True, text=True)
        assert c.returncode == 0 and "0 Errors" in c.stdout, c.stdout
    r = subprocess.run([sys.executable, "-m", "fieldsolve", "info", str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and "kind nbody" in r.stdout and "mesh rho: shape (48, 48, 48)" in r.stdout
    assert main(["plot", str(out), "--out", str(tmp_path / "pngs")]) == 0
    assert (tmp_path / "pngs" / "particles.png").stat().st_size > 1000


def test_seed_null_is_recorded(tmp_path):
    res = run(CONFIGS / "zeldovich.yaml", out=tmp_path / "z", echo=False,
              overrides=["seed=null", "time.t_end=0.02", "output.plots=false"])
    prov = json.loads((tmp_path / "z" / "provenance.json").read_text())
    assert isinstance(prov["seed_entropy"], int) and res.config.seed == prov["seed_entropy"]
    assert f"seed: {prov['seed_entropy']}" in (tmp_path / "z" / "config.resolved.yaml").read_text()


def _final_bits(res):
    state, meta = read_checkpoint(res.checkpoint)
    ts = read_timeseries(res.timeseries)
    return ({k: state[k].tobytes() for k in ("position", "velocity", "acceleration")},
            {k: v.tobytes() for k, v in ts.items()}, meta["time_hex"], meta["step"])


EXTEND = {  # a first end that clips the last step (t_end not a multiple of dt), then a later one
    "pic": ("two_stream.yaml", PIC_SMALL[:4] + ["time.dt=0.1", "output.every=7", "checkpoint.every=9"],
            "time.t_end", 2.15, 4.0),
    "nbody": ("plummer.yaml", PLUMMER_SMALL[:3] + ["time.dt=0.05", "output.every=5", "checkpoint.keep_last=1"],
              "time.t_end", 0.475, 0.9),
    "nbody-steps": ("zeldovich.yaml", ["output.plots=false", "time.t_end=null", "output.every=4"],
                    "time.steps", 6, 11),
}


@pytest.mark.parametrize("name", list(EXTEND))
def test_extending_a_finished_run_gives_the_bits_of_a_straight_run(tmp_path, name):
    """`--resume` with a later end continues a finished run exactly as if it had been given the
    later end from the start: when the first end shortened the last step, the extension
    resumes from the checkpoint kept before that step and replaces its outputs."""
    config, over, key, first_end, end = EXTEND[name]
    straight = run(CONFIGS / config, out=tmp_path / "straight", echo=False, overrides=over + [f"{key}={end}"])
    first = run(CONFIGS / config, out=tmp_path / "ext", echo=False, overrides=over + [f"{key}={first_end}"])
    assert (first.time if key == "time.t_end" else first.steps) == first_end
    clipped = read_timeseries(first.timeseries)["dt"][-1] < first.config.time.dt * 0.99
    assert clipped == (key == "time.t_end")  # else the t_end cases would test nothing
    extended = run(None, out=tmp_path / "ext", resume=True, echo=False, overrides=[f"{key}={end}"])
    assert extended.steps == straight.steps and extended.time == straight.time
    assert _final_bits(extended) == _final_bits(straight)
    names = [sorted(p.name for p in (tmp_path / d / "diags" / "fields").glob("fs_*.h5")) for d in ("straight", "ext")]
    # the same snapshots, plus (unless it was shortened and so replaced) the first run's last one
    assert sorted(set(names[1]) - set(names[0])) == ([] if clipped else [f"fs_{first.steps:06d}.h5"])
    assert set(names[0]) <= set(names[1])
    a = _snapshot_arrays(tmp_path / "straight" / "diags" / "fields" / names[0][-1])
    b = _snapshot_arrays(tmp_path / "ext" / "diags" / "fields" / names[0][-1])
    assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
    if clipped:
        assert "replaced" in (tmp_path / "ext" / "log.txt").read_text()


def test_resume_refuses_an_earlier_end_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "r"
    run(CONFIGS / "zeldovich.yaml", out=out, echo=False, overrides=["output.plots=false", "time.t_end=null",
                                                                   "time.steps=6"])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for over, frag in ((["time.steps=4"], "time.steps = 4 is before the checkpoint (step 6)"),
                       (["time.steps=null", "time.t_end=0.01"], "time.t_end = 0.01 is before the checkpoint")):
        rc = main(["run", "--resume", str(out), "-q"] + sum((["--set", o] for o in over), []))
        err = capsys.readouterr().err
        assert rc == 2 and frag in err and err.count("\n") == 1, err
        with pytest.raises(ConfigError, match="resume=True, out="):  # Python spelling from Python
            run(None, out=out, resume=True, echo=False, overrides=over)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert main(["run", "--resume", str(out), "-q", "--set", "time.steps=6"]) == 0  # the same end: a no-op
