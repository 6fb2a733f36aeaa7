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
        fft.set_planner_effort("FFTW_ESTIMATE")
