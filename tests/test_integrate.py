"""The leapfrog kernels of the particle runs against their NumPy forms."""
import numpy as np
import pytest

import fieldsolve as fs
from fieldsolve import _integrate_jit as jit


def test_kick_drift_wrap_bitwise_equal_to_numpy():
    rng = np.random.default_rng(0)
    n = 50_000
    origin, box = np.array([-0.5, 0.0, 2.0]), np.array([1.0, 3.0, 0.7])
    periodic = np.array([True, False, True])
    x = origin + rng.random((n, 3)) * box
    x[:10] += 1e9 * rng.normal(size=(10, 3))  # far outside: the wrap is an exact modulo
    v, a = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    dt = 0.0137
    xr, vr = x.copy(), v.copy()
    vr += (0.5 * dt) * a
    xr += dt * vr
    for j in range(3):
        if periodic[j]:
            o, L = origin[j], box[j]
            xr[:, j] = o + np.mod(xr[:, j] - o, L)
            xr[:, j][xr[:, j] >= o + L] = o
    jit.kick(v, a, 0.5 * dt)
    jit.drift(x, v, dt, origin, box, periodic)
    np.testing.assert_array_equal(v, vr)
    np.testing.assert_array_equal(x, xr)
    assert np.all((x[:, 0] >= -0.5) & (x[:, 0] < 0.5) & (x[:, 2] >= 2.0) & (x[:, 2] < 2.7))
    y = xr.copy()
    jit.wrap(y, origin, box, periodic)
    np.testing.assert_array_equal(y, xr)  # already wrapped: unchanged


def test_energy_and_momentum_match_numpy_and_ignore_the_thread_count():
    rng = np.random.default_rng(1)
    v, m = rng.normal(size=(100_003, 2)), rng.random(100_003)
    ke, p = jit.energy_momentum(v, m)
    assert abs(ke - 0.5 * np.sum(m[:, None] * v * v)) < 1e-12 * ke
    np.testing.assert_allclose(p, (m[:, None] * v).sum(0), rtol=1e-11, atol=1e-11)
    before = fs.get_num_threads()
    try:
        fs.set_num_threads(1)
        ke1, p1 = jit.energy_momentum(v, m)
    finally:
        fs.set_num_threads(before)
    assert ke1 == ke and np.array_equal(p1, p)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_energy_of_a_cold_beam_is_exact_in_any_split(d):
    """Two cold beams (|v| = 1 +- 1e-3, 40000 particles: the two-stream run): nearly equal terms,
    whose plain running sum loses ~N eps (6e-15 measured with one level of blocks). Summed in
    runs of 128, then blocks, the chain of additions is ~256 long: the whole, and its three
    unequal parts added (as three MPI ranks would), are within 1e-15 (~9 eps) of math.fsum."""
    import math

    rng = np.random.default_rng(2)
    n = 40_000
    v = np.where(rng.random((n, d)) < 0.5, -1.0, 1.0) * (1 + 1e-3 * rng.standard_normal((n, d)))
    m = np.full(n, 1.0 / n)
    exact_ke = 0.5 * math.fsum((m[:, None] * v * v).ravel())
    exact_p = np.array([math.fsum(m * v[:, j]) for j in range(d)])
    scale_p = float(np.sum(m[:, None] * np.abs(v)))
    parts = [jit.energy_momentum(v[a:b], m[a:b]) for a, b in ((0, 13_337), (13_337, 26_671), (26_671, n))]
    for ke, p in [jit.energy_momentum(v, m), (sum(k for k, _ in parts), sum(q for _, q in parts))]:
        assert abs(ke - exact_ke) <= 1e-15 * exact_ke
        assert np.max(np.abs(p - exact_p)) <= 1e-15 * scale_p


def test_cold_numba_cache_is_detected(tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    code = "from fieldsolve._jit_cache import cold; print(cold())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # this checkout's cache, warm since the suite started


@pytest.mark.slow
def test_first_run_says_it_compiles(tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    args = [sys.executable, "-m", "fieldsolve", "run", "configs/two_stream.yaml", "--out", str(tmp_path / "r"),
            "--no-progress", "--set", "time.t_end=0.1", "--set", "output.plots=false"]
    first = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    assert "compiling numba kernels, first run only" in first.stdout
    second = subprocess.run(args + ["--overwrite"], env=env, capture_output=True, text=True, check=True)
    assert "compiling" not in second.stdout


_LARGE_RUN_PATHS = """
import sys, numpy as np, numba
import fieldsolve
from fieldsolve import Grid, deposit, interpolate
from fieldsolve._jit_cache import warm
from fieldsolve.pm import ParticleMesh

def signatures():
    found = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("fieldsolve"):
            for attr, obj in vars(mod).items():
                if isinstance(obj, numba.core.registry.CPUDispatcher):
                    found[f"{name}.{attr}"] = len(obj.signatures)
    return found

warm()
before = signatures()
rng = np.random.default_rng(1)
for shape, periodic in (((64,) * 3, True), ((64,) * 3, (True, True, False)), ((168,) * 3, True),
                        ((4096,), True), ((512, 512), True)):
    g = Grid(shape, 1.0, periodic=periodic)
    x = 0.25 + 0.5 * rng.random((300_000, len(shape)))  # above the slab-sort thresholds
    for window in ("cic", "tsc"):
        rho = deposit(g, x, window=window)
        interpolate(g, np.stack([rho] * len(shape)), x, window=window)
y = 0.25 + 0.5 * rng.random((1000, 3))
for periodic in (True, (True, True, False), False):
    ParticleMesh(Grid((32,) * 3, 1.0, periodic=periodic)).accelerations(y, 1.0)
after = signatures()
print(sorted(k for k in after if after[k] > before.get(k, 0)))
"""


def test_the_warm_up_compiles_the_paths_large_runs_take():
    """`make run`/`make test` warm numba's cache; a large run (slab-sorted paint and readout,
    mixed and free-space solves) then compiles nothing: compiling inside a run cost 15 s and
    ~100 MiB of its peak memory (tests/test_resources.py measured it)."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _LARGE_RUN_PATHS], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
