"""Hostile input, table-driven: every bad input to the command line is refused with exit 2 and one
line naming what and where, before any run directory exists; failures during a run exit 1 with
one line pointing at log.txt; no traceback anywhere unless --debug. Then the same for the
library (the message spells options as Python does)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import fieldsolve as fs
from fieldsolve import files, openpmd
from fieldsolve.cli import main
from fieldsolve.config import ConfigError, load_config
from fieldsolve.runs import run

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

NBODY = {"kind": "nbody", "seed": 1, "threads": 1, "output": {"plots": False},
         "grid": {"shape": [16, 16, 16], "box": 8.0, "periodic": False}, "time": {"dt": 0.05, "steps": 2},
         "initial": {"kind": "hdf5", "path": "ic.h5"}}
POISSON = {"kind": "poisson", "output": {"plots": False}, "grid": {"shape": [8, 8, 8], "box": 1.0, "periodic": False},
           "source": {"kind": "hdf5", "path": "src.h5"}}
LES = {"kind": "les", "output": {"plots": False}, "grid": {"shape": [8, 8, 8], "box": 6.283185307179586},
       "velocity": {"kind": "hdf5", "path": "u.h5"}, "filter": {"kind": "gaussian", "width_cells": 2}}


def _h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v


def _ic(x, v=None, m=1.0):
    x = np.asarray(x, dtype=float)
    return {"position": x, "velocity": np.zeros_like(x) if v is None else v, "mass": m}


GOOD_X = np.array([[3.0, 4.0, 4.0], [5.0, 4.0, 4.0]])


def _with(base, **changes):
    """A deep copy of a config dict with `a.b` keys replaced."""
    import copy

    cfg = copy.deepcopy(base)
    for key, value in changes.items():
        node = cfg
        *head, last = key.split(".")
        for k in head:
            node = node[k]
        node[last] = value
    return cfg


# (id, files to create {name: bytes | dict of datasets | callable(path)}, config (dict, text or None),
#  extra argv, expected exit status, fragments of the one stderr line)
CLI_CASES = [
    ("alias bomb", {}, "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)), ["validate"], 2,
     ["more than 20000 keys and values", "alias bomb"]),
    ("merge bomb", {}, "m0: &m0 {a: 1}\n" + "".join(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}\n"
                                                     for i in range(1, 40)), ["validate"], 2, ["merge keys"]),
    ("deep nesting", {}, "[" * 5000 + "]" * 5000, ["validate"], 2, ["nesting depth"]),
    ("binary config", {"c.yaml": b"\x89HDF\r\n\x1a\n\x00\x00"}, None, ["validate"], 2, ["binary data", "NUL"]),
    ("latin-1 config", {"c.yaml": "kind: nbody\nname: caf\xe9\n".encode("latin-1")}, None, ["validate"], 2,
     ["not UTF-8 text", "0xe9"]),
    ("python tag", {}, "kind: !!python/object/apply:os.system ['echo hi']\n", ["validate"], 2,
     ["tag !!python/object/apply:os.system is refused"]),
    ("directory as config", {"d/x": b""}, None, ["validate", "d"], 2, ["d: is a directory"]),
    ("config over 1 MiB", {"c.yaml": b"# " + b"x" * (1 << 20)}, None, ["validate"], 2, ["larger than 1 MiB"]),
    ("1024^3 isolated grid", {}, _with(NBODY, **{"grid.shape": [1024] * 3, "initial": {
        "kind": "plummer", "n_particles": 1000, "r_max": 3.0}}), ["validate"], 2,
     ["estimated peak memory", "exceeds", "largest part: mesh arrays on the (1024, 1024, 1024) grid",
      "--force or resources.max_memory"]),
    ("1e12 particles", {}, _with(NBODY, initial={"kind": "plummer", "n_particles": 1e12, "r_max": 3.0}),
     ["run"], 2, ["estimated peak memory", "1,000,000,000,000 particles"]),
    ("memory over resources.max_memory", {}, _with(NBODY, resources={"max_memory": "1 MiB"}, initial={
        "kind": "plummer", "n_particles": 100, "r_max": 3.0}), ["run"], 2, ["of resources.max_memory"]),
    ("IC file missing", {}, NBODY, ["run"], 2, ["initial.path = 'ic.h5': no such file"]),
    ("IC not HDF5", {"ic.h5": b"position,velocity\n1,2\n"}, NBODY, ["run"], 2, ["not an HDF5 file"]),
    ("IC truncated", {"ic.h5": lambda p: (_h5(p, **_ic(np.full((4000, 3), 4.0))),
                                          p.write_bytes(p.read_bytes()[:5000]))}, NBODY, ["run"], 2,
     ["initial.path", "truncated"]),
    ("IC without velocity", {"ic.h5": {"position": GOOD_X, "mass": 1.0}}, NBODY, ["run"], 2,
     ["datasets ['velocity'] are missing"]),
    ("IC 2-D positions", {"ic.h5": _ic(GOOD_X[:, :2])}, NBODY, ["run"], 2, ["expected (N, 3)"]),
    ("IC NaN", {"ic.h5": _ic([[3.0, np.nan, 4.0]])}, NBODY, ["run"], 2, ["NaN or infinite"]),
    ("IC outside bounded grid", {"ic.h5": _ic([[3.0, 4.0, 7.9]])}, NBODY, ["run"], 2,
     ["leave the bounded grid on axis 2"]),
    ("source wrong shape", {"src.h5": {"density": np.ones((8, 8))}}, POISSON, ["run"], 2,
     ["source.dataset 'density' has shape (8, 8); expected (8, 8, 8)"]),
    ("source dataset missing", {"src.h5": {"rho": np.ones((8, 8, 8))}}, POISSON, ["run"], 2,
     ["source.dataset = 'density': not in src.h5; datasets: ['rho']"]),
    ("source NaN", {"src.h5": {"density": np.full((8, 8, 8), np.nan)}}, POISSON, ["run"], 2, ["512 NaN"]),
    ("velocity wrong shape", {"u.h5": {"velocity": np.ones((8, 8, 8))}}, LES, ["run"], 2,
     ["velocity.dataset 'velocity' has shape (8, 8, 8); expected (3, 8, 8, 8)"]),
    ("velocity infinite", {"u.h5": {"velocity": np.full((3, 8, 8, 8), np.inf)}}, LES, ["run"], 2,
     ["NaN or infinite"]),
    ("kernel needs equal spacing", {}, _with(POISSON, **{"grid.box": [1.0, 2.0, 1.0], "solver": {"kernel": "zeta"},
                                                         "source": {"kind": "gaussian"}}), ["run"], 2,
     ["solver: kernel 'zeta'", "needs equal spacing"]),
    ("fd4 on 4 cells", {}, _with(POISSON, **{"grid.shape": [4, 8, 8], "grid.box": [0.5, 1.0, 1.0],
                                             "solver": {"gradient": "fd4"},
                                             "source": {"kind": "gaussian"}}), ["run"], 2,
     ["solver.gradient = 'fd4'", "at least 5 cells"]),
    ("sharp filter below h", {"u.h5": {"velocity": np.zeros((3, 8, 8, 8))}},
     _with(LES, filter={"kind": "sharp", "width": 0.1}), ["run"], 2, ["filter:", "below the grid spacing"]),
    ("--out under a file", {"f": b""}, _with(POISSON, source={"kind": "gaussian"}), ["run", "--out", "f/run"], 2,
     ["--out f/run: f is a file"]),
    ("plot text file", {"t.h5": b"not hdf5\n"}, None, ["plot", "t.h5"], 2, ["t.h5: not an HDF5 file"]),
    ("plot truncated snapshot", {"s.h5": lambda p: p.write_bytes(_snapshot_bytes()[:3000])}, None,
     ["plot", "s.h5"], 2, ["s.h5: cannot", "truncated"]),
    ("info truncated snapshot", {"s.h5": lambda p: p.write_bytes(_snapshot_bytes()[:3000])}, None,
     ["info", "s.h5"], 2, ["s.h5: cannot", "truncated"]),
    ("resume without a run", {}, None, ["run", "--resume", "nothing"], 2, ["--resume nothing: not a run directory"]),
    ("threads: 999", {}, _with(POISSON, threads=999, source={"kind": "gaussian"}), ["validate"], 0, []),
]


def _snapshot_bytes(cache={}):
    """One small real openPMD snapshot (bytes), made once."""
    if "b" not in cache:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            g = fs.Grid((8, 8, 8), 1.0)
            path = openpmd.write_iteration(d, 0, time=0.0, dt=0.0, grid=g, meshes={
                "rho": {"data": np.random.default_rng(0).random(g.shape), "unit_dimension": (0,) * 7}})
            cache["b"] = Path(path).read_bytes()
    return cache["b"]


def _setup(tmp_path, files, config):
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, dict):
            _h5(path, **content)
        else:
            content(path)
    if isinstance(config, dict):
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    elif isinstance(config, str):
        (tmp_path / "c.yaml").write_text(config)


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, tmp_path, capsys, monkeypatch):
    name, files, config, argv, status, fragments = case
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path, files, config)
    if config is not None or "c.yaml" in files:
        argv = argv[:1] + ["c.yaml"] + argv[1:]
    if argv[0] == "run" and "--out" not in argv and "--resume" not in argv:
        argv = argv + ["--out", "run", "-q"]
    rc = main(argv)
    out, err = capsys.readouterr()
    print(f"{name}: exit {rc}: {err.strip()}")
    assert rc == status, err
    assert "Traceback" not in out + err
    if status:
        assert err.count("\n") == 1 and err.startswith("fieldsolve: error: "), err
        for frag in fragments:
            assert frag in err, (frag, err)
        assert not (tmp_path / "run").exists(), "a refused run must not create its directory"
    if name == "threads: 999":
        assert f"# note: threads = 999 but {len(os.sched_getaffinity(0))} cores" in out


def test_run_time_failure_is_one_line_with_the_log(tmp_path, capsys):
    """A particle leaving an isolated box mid-run: exit 1, one line on stderr naming log.txt, the
    echo on stdout without a traceback, the traceback in log.txt; --debug adds it on stderr."""
    cfg = _with(NBODY, **{"grid.box": 4.0, "time": {"dt": 0.5, "steps": 40},
                          "initial": {"kind": "uniform_sphere", "n_particles": 200, "radius": 1.0, "virial_ratio": 8.0}})
    (tmp_path / "hot.yaml").write_text(yaml.safe_dump(cfg))
    rc = main(["run", str(tmp_path / "hot.yaml"), "--out", str(tmp_path / "hot"), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 1 and err.count("\n") == 1, err
    assert "left the isolated box" in err and f"details in {tmp_path / 'hot' / 'log.txt'}" in err
    assert "Traceback" not in out + err and "run failed: step" in out
    assert "Traceback" in (tmp_path / "hot" / "log.txt").read_text()
    rc = main(["--debug", "run", str(tmp_path / "hot.yaml"), "--out", str(tmp_path / "hot"), "-q", "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" in err and err.strip().splitlines()[-1].startswith("fieldsolve: failed:")


def test_checkpoint_missing_a_dataset(tmp_path, capsys):
    out = tmp_path / "r"
    run(CONFIGS / "zeldovich.yaml", out=out, echo=False, overrides=["output.plots=false", "time.t_end=0.02"])
    latest = out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip()
    with h5py.File(latest, "a") as f:
        del f["state/position"]
    resolved = (out / "config.resolved.yaml").read_bytes()
    rc = main(["run", "--resume", str(out), "-q", "--set", "time.t_end=0.05"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "is incomplete (missing state/position)" in err, err
    assert (out / "config.resolved.yaml").read_bytes() == resolved  # nothing rewritten
    latest.write_bytes(b"garbage")
    assert main(["run", "--resume", str(out)]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err


def test_write_past_the_file_size_limit_fails_cleanly(tmp_path):
    """ulimit -f: the write fails (EFBIG) instead of the process dying; exit 1, one line naming
    the file, no partial file left."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    # the same run without the limit first: a cold numba cache would hit the limit while writing
    # its own cache files (a fresh clone in CI), before the run's first output file
    warm = subprocess.run([sys.executable, "-m", "fieldsolve", "run", str(CONFIGS / "default.yaml"), "--out",
                           str(tmp_path / "warm"), "--no-progress", "--set", "time.t_end=0.1",
                           "--set", "output.plots=false"], capture_output=True, text=True)
    assert warm.returncode == 0, warm.stderr
    r = subprocess.run([sys.executable, "-m", "fieldsolve", "run", str(CONFIGS / "default.yaml"), "--out",
                        str(tmp_path / "fz"), "--no-progress", "--set", "time.t_end=0.1"],
                       capture_output=True, text=True, preexec_fn=limit)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write" in r.stderr and "File too large" in r.stderr, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert not list((tmp_path / "fz").rglob("*.tmp"))


def test_ctrl_c_during_start_up_exits_130_quietly(tmp_path):
    """SIGINT at several moments of start-up (imports, config, set-up, first steps): at most one
    line on stderr, no traceback, status 130 (or killed by SIGINT, which a shell also reports as
    130: CPython does that after an interrupt inside some C-extension imports)."""
    for i, delay in enumerate((0.15, 0.35, 0.6, 0.9)):
        p = subprocess.Popen([sys.executable, "-m", "fieldsolve", "run", str(CONFIGS / "default.yaml"), "--out",
                              str(tmp_path / f"r{i}"), "--no-progress", "--set", "time.t_end=5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert p.returncode in (130, -signal.SIGINT), (delay, p.returncode, err)
        assert "Traceback" not in out + err and err.count("\n") <= 1, (delay, err)


def test_a_ctrl_c_that_something_swallowed_still_exits_130(monkeypatch, capsys):
    """A Ctrl-C whose KeyboardInterrupt a C extension (or a deferred re-delivery) swallowed during
    start-up: the command ran to its end, but the status is still 130, with one line saying so
    (it was 0, silently)."""
    import os
    import signal

    from fieldsolve import cli

    def swallowing(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the handler runs here (or the deferred one, during an import)
        except KeyboardInterrupt:
            pass  # what a C extension may do
        return 0

    monkeypatch.setattr(cli, "_cmd_schema", swallowing)
    handler = signal.getsignal(signal.SIGINT)
    try:
        assert cli.main(["schema"]) == 130
    finally:  # main() leaves SIGINT ignored after an interrupt (for the interpreter's shut-down)
        signal.signal(signal.SIGINT, handler)
    err = capsys.readouterr().err
    assert err == "fieldsolve: interrupted, but only after the command had finished (its output is complete)\n"
    monkeypatch.setattr(cli, "_cmd_schema", lambda args: 0)
    assert cli.main(["schema"]) == 0  # the next command in this process starts afresh


# ---------------------------------------------------------------------------------------------
# the library
# ---------------------------------------------------------------------------------------------
def _lib_cases(tmp_path):
    (tmp_path / "text.h5").write_text("not hdf5")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    small = _with(POISSON, source={"kind": "gaussian"})
    return [
        ("alias bomb text", lambda: load_config("a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
            f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 10)}]\n" for i in range(6))),
         ConfigError, "alias bomb"),
        ("directory", lambda: load_config(tmp_path), ConfigError, "is a directory"),
        ("over memory", lambda: run(_with(small, resources={"max_memory": 1000}), out=tmp_path / "m"),
         ConfigError, "override with force=True or resources.max_memory"),
        ("out not empty", lambda: run(small, out=tmp_path / "full"), ConfigError,
         "out='" + str(tmp_path / "full") + "': directory is not empty; pass overwrite=True"),
        ("resume nothing", lambda: run(None, out=tmp_path / "none", resume=True), ConfigError,
         "resume=True, out='" + str(tmp_path / "none") + "': not a run directory"),
        ("checkpoint not HDF5", lambda: files.read_checkpoint(tmp_path / "text.h5"), files.ReadError, "not an HDF5 file"),
        ("timeseries missing", lambda: files.read_timeseries(tmp_path / "no.h5"), files.ReadError, "no such file"),
        ("bad memory size", lambda: load_config(small, ["resources.max_memory=lots"]), ConfigError,
         "resources.max_memory = 'lots': not a size"),
        ("NaN position", lambda: fs.deposit(fs.Grid(8, 1.0), [np.nan]), ValueError, "NaN or infinite"),
        ("inf position readout", lambda: fs.interpolate(fs.Grid(8, 1.0), np.zeros(8), [np.inf]), ValueError,
         "NaN or infinite"),
        ("outside bounded", lambda: fs.assign.check_positions(fs.Grid(8, 1.0, periodic=False), [0.01]), ValueError,
         "leave the bounded grid"),
    ]


LIB_IDS = ["alias bomb text", "directory", "over memory", "out not empty", "resume nothing", "checkpoint not HDF5",
           "timeseries missing", "bad memory size", "NaN position", "inf position readout", "outside bounded"]


@pytest.mark.parametrize("name", LIB_IDS)
def test_library_bad_input(name, tmp_path):
    case = {c[0]: c for c in _lib_cases(tmp_path)}[name]
    _, call, exc_type, fragment = case
    with pytest.raises(exc_type) as exc:
        call()
    assert fragment in str(exc.value) and "\n" not in str(exc.value), str(exc.value)
    assert not (tmp_path / "m").exists()


def test_force_and_max_memory_override(tmp_path, capsys):
    """The memory guard's two overrides: --force runs a refused config; a higher
    resources.max_memory than this machine has is the user's call."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_with(POISSON, resources={"max_memory": "1 MiB"}, source={"kind": "gaussian"})))
    assert main(["run", str(cfg), "--out", str(tmp_path / "a"), "-q"]) == 2
    assert main(["run", str(cfg), "--out", str(tmp_path / "a"), "-q", "--force"]) == 0
    res = run(cfg, out=tmp_path / "b", echo=False, overrides=["resources.max_memory=1 PiB"])
    assert res.final["phi_rel_l2_error"] < 1e-2
    capsys.readouterr()


def test_threads_capped_with_a_message(tmp_path):
    res = run(_with(POISSON, threads=999, source={"kind": "gaussian"}), out=tmp_path / "t", echo=False)
    assert f"threads = 999 but {len(os.sched_getaffinity(0))} cores" in (tmp_path / "t" / "log.txt").read_text()
    assert res.final["phi_rel_l2_error"] < 1e-2
