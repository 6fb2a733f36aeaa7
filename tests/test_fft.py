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
