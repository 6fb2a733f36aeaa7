import numpy as np
import pytest

from fieldsolve import fft, set_num_threads, get_num_threads


@pytest.fixture(params=fft.available_backends())
def backend(request):
    old = fft.get_backend()
    fft.set_backend(request.param)
    yield request.param
    fft.set_backend(old)


@pytest.mark.parametrize("shape", [(16,), (9, 6), (8, 5, 7)])
def test_forward_matches_numpy_and_roundtrip(backend, shape, rng):
    x = rng.standard_normal(shape)
    X = fft.rfftn(x)
    np.testing.assert_allclose(X, np.fft.rfftn(x), atol=1e-12 * x.size)
    np.testing.assert_allclose(fft.irfftn(X, x.shape), x, atol=1e-14 * x.size)
    z = x + 1j * rng.standard_normal(shape)
    np.testing.assert_allclose(fft.fftn(z), np.fft.fftn(z), atol=1e-12 * x.size)
    np.testing.assert_allclose(fft.ifftn(fft.fftn(z)), z, atol=1e-14 * x.size)


def test_axes_and_input_preserved(backend, rng):
    x = rng.standard_normal((3, 8, 6))
    X = fft.rfftn(x, axes=(1, 2))
    np.testing.assert_allclose(X, np.fft.rfftn(x, axes=(1, 2)), atol=1e-12)
    Xc = X.copy()
    y = fft.irfftn(X, (8, 6), axes=(1, 2))
    np.testing.assert_array_equal(X, Xc)  # c2r destroys its input: the layer must protect it
    np.testing.assert_allclose(y, x, atol=1e-13)


def test_float32_stays_single(backend, rng):
    x = rng.standard_normal((16, 16)).astype(np.float32)
    X = fft.rfftn(x)
    assert X.dtype == np.complex64
    y = fft.irfftn(X, x.shape)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1e-5)


def test_threads_do_not_change_results(rng):
    x = rng.standard_normal((32, 32, 32))
    old = get_num_threads()
    try:
        set_num_threads(1)
        a = fft.rfftn(x)
        set_num_threads(2)
        b = fft.rfftn(x)
    finally:
        set_num_threads(old)
    np.testing.assert_allclose(a, b, atol=1e-11)


def test_bad_input():
    with pytest.raises(ValueError, match="real"):
        fft.rfftn(np.ones(4, complex))
    with pytest.raises(ValueError, match="output length"):
        fft.irfftn(np.ones(4, complex), (10,))
    with pytest.raises(ValueError, match="backend"):
        fft.set_backend("mkl")
    with pytest.raises(ValueError, match=">= 1"):
        set_num_threads(0)


def test_inputs_preserved_and_not_pinned(backend, rng):
    import gc
    import weakref

    x = rng.standard_normal((16, 12, 10))
    x0 = x.copy()
    X = fft.rfftn(x)
    np.testing.assert_array_equal(x, x0)  # r2c must not destroy the caller's array
    z = X.copy()
    fft.ifftn(fft.fftn(z))
    np.testing.assert_array_equal(z, X)
    ref_in, ref_out = weakref.ref(x), weakref.ref(X)
    del x, X, z
    gc.collect()
    assert ref_in() is None and ref_out() is None  # no cached plan keeps arrays alive


@pytest.mark.skipif("pyfftw" not in fft.available_backends(), reason="pyFFTW backend not installed")
def test_measure_effort_keeps_data(rng):
    fft.set_backend("pyfftw")
    old = fft.get_planner_effort()
    try:
        fft.set_planner_effort("FFTW_MEASURE")
        x = rng.standard_normal((12, 10, 8))
        x0 = x.copy()
        X = fft.rfftn(x)  # planning with MEASURE overwrites arrays: must use scratch ones
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_allclose(X, np.fft.rfftn(x0), atol=1e-12)
        Xc = X.copy()
        np.testing.assert_allclose(fft.irfftn(X, x.shape), x0, atol=1e-13)
        np.testing.assert_array_equal(X, Xc)
        with pytest.raises(ValueError, match="planner effort"):
            fft.set_planner_effort("FAST")
    finally:
        fft.set_planner_effort(old)


@pytest.mark.skipif("pyfftw" not in fft.available_backends(), reason="pyFFTW backend not installed")
def test_auto_effort_measures_large_problems_once_and_persists_wisdom(rng, tmp_path, monkeypatch):
    """"auto" measures from _MEASURE_FROM points on; the wisdom file is written atomically,
    re-read by a fresh process (which then plans from it), and a corrupt file only warns."""
    import json
    import subprocess
    import sys

    path = tmp_path / "wisdom"
    monkeypatch.setenv("FIELDSOLVE_FFTW_WISDOM", str(path))
    monkeypatch.setattr(fft, "_MEASURE_FROM", 500)
    monkeypatch.setattr(fft, "_measured", set())
    fft.set_backend("pyfftw")
    assert fft.get_planner_effort() == "auto" and fft.wisdom_path() == str(path)
    x = rng.standard_normal((10, 9, 8))  # 720 points: measured
    x0 = x.copy()
    np.testing.assert_allclose(fft.rfftn(x), np.fft.rfftn(x0), atol=1e-12)
    np.testing.assert_array_equal(x, x0)  # measuring ran on scratch arrays
    wisdom = json.loads(path.read_text())
    assert len(wisdom) == 3 and "fftw" in wisdom[0]
    assert [p.name for p in tmp_path.iterdir()] == ["wisdom"]  # no temporary left behind
    small = rng.standard_normal((7, 6))  # 42 points: estimated, no new wisdom written
    stamp = path.stat().st_mtime_ns
    np.testing.assert_allclose(fft.rfftn(small), np.fft.rfftn(small), atol=1e-12)
    assert path.stat().st_mtime_ns == stamp
    # a fresh process finds the plan in the file: FFTW_WISDOM_ONLY planning succeeds at once
    code = ("import numpy as np, pyfftw; from fieldsolve import fft; fft._load_wisdom();"
            "a = pyfftw.empty_aligned((10, 9, 8), 'f8'); b = pyfftw.empty_aligned((10, 9, 5), 'c16');"
            "from fieldsolve._threads import get_num_threads as g;"
            "pyfftw.FFTW(a, b, axes=(0, 1, 2), threads=g(), flags=('FFTW_MEASURE', 'FFTW_WISDOM_ONLY'));"
            "print('planned-from-file')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "FIELDSOLVE_FFTW_WISDOM": str(path)})
    assert "planned-from-file" in res.stdout, res.stderr
    # corrupt file: a warning, and transforms stay correct
    path.write_text("not json")
    monkeypatch.setattr(fft, "_wisdom", {"loaded": False})
    monkeypatch.setattr(fft, "_measured", set())
    import pyfftw

    pyfftw.forget_wisdom()  # as in a fresh process: the plan must be measured again
    with pytest.warns(RuntimeWarning, match="unreadable FFTW wisdom"):
        X = fft.rfftn(x)
    np.testing.assert_allclose(X, np.fft.rfftn(x0), atol=1e-12)
    json.loads(path.read_text())  # rewritten whole after the new measurement


def test_wisdom_file_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("FIELDSOLVE_FFTW_WISDOM", "off")
    assert fft.wisdom_path() is None
    monkeypatch.delenv("FIELDSOLVE_FFTW_WISDOM")
    monkeypatch.setenv("XDG_CACHE_HOME", "/some/cache")
    assert fft.wisdom_path() == "/some/cache/fieldsolve/fftw-wisdom"


def test_openmp_spin_is_short_unless_user_set_it():
    """numba and pyFFTW each run a libgomp; long spin-waits of one starve the other on few
    cores, so fieldsolve shortens the spin at import -- but never overrides the user."""
    import os
    import subprocess
    import sys

    code = "import os, fieldsolve; print(os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split()[-1] == "3000", out.stderr
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "active"},
                         capture_output=True, text=True)
    assert out.stdout.split()[-1] == "None", out.stderr


@pytest.mark.parametrize("measured", [False, True])
def test_execute_in_place_on_strided_views(backend, measured, rng, monkeypatch):
    """fft.execute runs unnormalised transforms on views of one buffer, in place (the pruned
    Poisson pipeline); measured plans are made on a scratch copy of the layout, so the data
    written before planning survives."""
    monkeypatch.setattr(fft, "_MEASURE_FROM", 1 if measured else 1 << 40)
    monkeypatch.setattr(fft, "_measured", set())
    B = np.zeros((8, 6, 5), np.complex128)  # rfft layout of a (8, 6, 8) real grid
    Bv = B.view(np.float64)                 # (8, 6, 10): FFTW's padded in-place layout
    f = rng.standard_normal((4, 3, 8))
    Bv[:4, :3, :8] = f
    fft.execute("r2c", Bv[:4, :3, :8], B[:4, :3], 2)
    ref = np.fft.rfft(f, axis=2)
    np.testing.assert_allclose(B[:4, :3], ref, atol=1e-12)
    fft.execute("c2c_f", B[:, :3], B[:, :3], 0)  # rows 4..7 are zero: a padded axis
    ref = np.fft.fft(np.concatenate([ref, np.zeros_like(ref)]), axis=0)
    np.testing.assert_allclose(B[:, :3], ref, atol=1e-12)
    fft.execute("c2c_b", B[:, :3], B[:, :3], 0)
    np.testing.assert_allclose(B[:4, :3], 8 * np.fft.rfft(f, axis=2), atol=1e-11)  # unnormalised
    fft.execute("c2r", B[:4, :3], Bv[:4, :3, :8], 2)
    np.testing.assert_allclose(Bv[:4, :3, :8], 8 * 8 * f, atol=1e-10)
    with pytest.raises(ValueError, match="kind"):
        fft.execute("dct", B, B, 0)


@pytest.mark.parametrize("full", [(10, 7, 5), (9, 8, 4), (6, 4)])
def test_multiply_mirrored_on_a_block_is_the_block_of_the_product(full, rng):
    """A rank's block of a distributed spectrum (any offset on any axis, contiguous or a
    strided view) is multiplied as the same block of the whole layout."""
    half = rng.random(fft.mirrored_shape(full))
    X = rng.standard_normal(full) + 1j * rng.standard_normal(full)
    whole = fft.multiply_mirrored(X.copy(), half)
    for sl in [tuple(slice(0, n) for n in full[:-1]) + (slice(1, 3),),
               tuple(slice(2, n) for n in full[:-1]) + (slice(0, 2),)]:
        np.testing.assert_array_equal(fft.multiply_mirrored(np.ascontiguousarray(X[sl]), half, (sl, full)),
                                      whole[sl])
        np.testing.assert_array_equal(fft.multiply_mirrored(X.copy()[sl], half, (sl, full)), whole[sl])
