"""Multi-dimensional PIC against the PIC cold-plasma dispersion, CFL-limited steps, HDF5 initial
conditions, plots and info."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from fieldsolve.cli import main
from fieldsolve.diagnostics import fit_damped_oscillation
from fieldsolve.files import read_timeseries
from fieldsolve.openpmd import read_particles
from fieldsolve.runs import run

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("solver", [None, {"window": "cic", "kernel": "spectral", "gradient": "spectral"}],
                         ids=["defaults", "cic-spectral"])
@pytest.mark.parametrize("shape,mode", [([16, 16], [0, 1]), ([8, 8, 8], [0, 0, 1])], ids=["2d", "3d"])
def test_cold_plasma_oscillation_2d_3d(tmp_path, shape, mode, solver):
    """Cold plasma: each mode oscillates at omega_p times the principal alias term of the PIC
    dispersion relation, omega^2 = omega_p^2 W(k)^2 D(k) k / K^2(k), with W = sinc^p(k h / 2)
    the window (deposit and readout), D the gradient symbol and -1/K^2 the Green's function.
    Defaults (TSC, FD4 Green's function K^2 = (4 s + 4/3 s^2)/h^2, s = sin^2(k h/2), FD4
    gradient D = (8 sin kh - sin 2kh)/6h): 0.9806 for k h = 2 pi / 16, 0.9218 for 2 pi / 8;
    CIC with spectral Green's function and gradient: W^2 = 0.9873 and 0.9497."""
    n = int(np.prod(shape))
    cfg = {"kind": "pic", "seed": 1, "threads": 1, "grid": {"shape": shape, "box": 2 * np.pi},
           "time": {"dt": 0.1, "t_end": 20.0}, "output": {"plots": False, "particles": False, "every": 1000},
           "species": [{"name": "e", "charge": -1.0, "mass": 1.0, "n_particles": 16 * n, "v_th": 0.0,
                        "perturbation": {"amplitude": 0.01, "mode": mode}}]}
    if solver:
        cfg["solver"] = solver
    res = run(cfg, out=tmp_path / "cold", echo=False)
    ts = read_timeseries(res.timeseries)
    a = ts["mode_amplitude"]
    comp = 1 if np.var(a[:, 1]) > np.var(a[:, 0]) else 0
    gamma, omega, amp, _ = fit_damped_oscillation(ts["time"], a[:, comp])
    kh = 2 * np.pi / shape[-1]
    if solver:
        expected = np.sinc(kh / 2 / np.pi) ** 2
    else:
        s = np.sin(kh / 2) ** 2
        expected = np.sqrt(np.sinc(kh / 2 / np.pi) ** 6 * (8 * np.sin(kh) - np.sin(2 * kh)) / 6 * kh
                           / (4 * s + 4 / 3 * s * s))
    print(f"cold plasma {len(shape)}-D: omega = {omega:.5f}, PIC theory {expected:.5f}")
    assert abs(omega / expected - 1) < 0.005
    assert abs(omega - 1) > 0.01  # the grid effect is resolved, not just omega_p
    assert abs(gamma) < 1e-3
    assert 0.008 < amp < 0.0105  # E amplitude alpha n0 e / (eps0 k) = 0.01, reduced by the windows


def test_cfl_limited_steps(tmp_path):
    res = run(CONFIGS / "two_stream.yaml", out=tmp_path / "cfl", echo=False,
              overrides=["threads=1", "output.plots=false", "time.dt=1.0", "time.cfl=0.25", "time.t_end=2.0",
                         "species.0.n_particles=2000", "species.1.n_particles=2000"])
    ts = read_timeseries(res.timeseries)
    h = 10.471975511965978 / 64
    dt = ts["dt"][1:]
    assert np.all(dt <= 0.25 * h / 0.999 + 1e-15) and dt[0] > 0.2 * h
    assert res.time == 2.0 and abs(ts["time"][-1] - 2.0) < 1e-15
    np.testing.assert_allclose(np.cumsum(dt), ts["time"][1:], rtol=1e-12)


def test_hdf5_initial_conditions_continue_a_run(tmp_path):
    """Restarting from an openPMD snapshot (float64) reproduces the original run bit for bit."""
    over = ["output.plots=false", "output.every=10"]
    ref = run(CONFIGS / "zeldovich.yaml", out=tmp_path / "ref", echo=False, overrides=over + ["time.t_end=0.1"])
    snap = tmp_path / "ref" / "diags" / "fields" / "fs_000010.h5"
    cont = run(CONFIGS / "zeldovich.yaml", out=tmp_path / "cont", echo=False,
               overrides=over + ["time.t_end=0.05", "initial={kind: hdf5, path: '%s'}" % snap])
    a = read_particles(ref.snapshots[-1])
    b = read_particles(cont.snapshots[-1])
    assert a["position"].tobytes() == b["position"].tobytes()
    assert a["velocity"].tobytes() == b["velocity"].tobytes()
    np.testing.assert_array_equal(b["mass"], a["mass"])


def test_hdf5_initial_conditions_plain_datasets(tmp_path, capsys):
    path = tmp_path / "ic.h5"
    x = np.array([[3.0, 4.0, 4.0], [5.0, 4.0, 4.0]])
    with h5py.File(path, "w") as f:
        f["position"] = x
        f["velocity"] = np.array([[0.0, 0.5, 0.0], [0.0, -0.5, 0.0]])
        f["mass"] = 1.0
    cfg = {"kind": "nbody", "threads": 1, "seed": 0, "grid": {"shape": [32, 32, 32], "box": 8.0, "periodic": False},
           "time": {"dt": 0.01, "steps": 5}, "initial": {"kind": "hdf5", "path": str(path)},
           "output": {"plots": False}}
    res = run(cfg, out=tmp_path / "pair", echo=False)
    p = read_particles(res.snapshots[-1])
    # two unit masses 2 apart attract: x1 moves right by about (1/2) a t^2, a = G m / d^2 = 1/4
    t = res.time
    assert p["position"][0, 0] - 3.0 == pytest.approx(0.5 * 0.25 * t * t, rel=0.1)
    bad = dict(cfg, initial={"kind": "hdf5", "path": str(tmp_path / "missing.h5")})
    import yaml

    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert main(["run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "bad"), "-q"]) == 2
    assert "initial.path" in capsys.readouterr().err


def test_info_and_plot_on_files(tmp_path, capsys):
    res = run(CONFIGS / "two_stream.yaml", out=tmp_path / "ts", echo=False, progress=True,
              overrides=["threads=1", "time.t_end=0.5", "species.0.n_particles=2000", "species.1.n_particles=2000"])
    assert "step/s" in capsys.readouterr().err  # progress=True forces the bar on
    names = {p.name for p in res.plots}
    assert {"energy.png", "mode_energy.png", "phase_space.png", "density.png"} <= names
    assert main(["info", str(res.snapshots[-1])]) == 0
    out = capsys.readouterr().out
    assert "species left: 2000 particles" in out and "mesh E" in out
    assert main(["info", str(res.checkpoint)]) == 0
    assert "checkpoint of a pic run" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "ts" / "timeseries.h5")]) == 0
    assert "total_energy" in capsys.readouterr().out
    (tmp_path / "junk.h5").write_text("not hdf5")
    assert main(["info", str(tmp_path / "junk.h5")]) == 2
    assert main(["plot", str(tmp_path / "nothing")]) == 2


def test_run_restores_thread_count(tmp_path):
    import fieldsolve

    before = fieldsolve.get_num_threads()
    fieldsolve.set_num_threads(2)
    try:
        run(CONFIGS / "zeldovich.yaml", out=tmp_path / "z", echo=False,
            overrides=["threads=1", "time.t_end=0.01", "output.plots=false"])
        assert fieldsolve.get_num_threads() == 2
    finally:
        fieldsolve.set_num_threads(before)
