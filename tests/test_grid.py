import numpy as np
import pytest

from fieldsolve import Grid


def test_cell_centred_coordinates_and_spacing():
    g = Grid((4, 8), box=(2.0, 4.0), origin=(-1.0, 0.5))
    assert g.ndim == 2 and g.shape == (4, 8) and g.spacing == (0.5, 0.5)
    assert g.cell_volume == 0.25 and g.volume == 8.0 and g.size == 32
    np.testing.assert_allclose(g.coords(0), [-0.75, -0.25, 0.25, 0.75])
    X, Y = g.mesh()
    assert X.shape == (4, 8) and Y[0, 0] == 0.75 and X[3, 0] == 0.75


def test_scalar_broadcast_and_periodic_tuple():
    g = Grid(16, 1.0)
    assert g.shape == (16,) and g.box == (1.0,) and g.periodic == (True,)
    g3 = Grid((4, 5, 6), 3.0, periodic=(True, False, True))
    assert g3.box == (3.0, 3.0, 3.0) and g3.periodic == (True, False, True)
    assert not g3.all_periodic


def test_wavenumbers_match_fftfreq_and_nyquist():
    g = Grid((8, 6, 5), box=(2.0, 3.0, 1.0))
    for a in range(3):
        np.testing.assert_allclose(g.wavenumbers(a), 2 * np.pi * np.fft.fftfreq(g.shape[a], g.spacing[a]))
    kx, ky, kz = g.kvectors(rfft=True)
    assert kz.shape == (1, 1, 3) and kx.shape == (8, 1, 1)
    np.testing.assert_allclose(kz.ravel(), 2 * np.pi * np.fft.rfftfreq(5, 0.2))
    assert g.rfft_shape == (8, 6, 3)
    np.testing.assert_allclose(g.nyquist, [np.pi / 0.25, np.pi / 0.5, np.pi / 0.2])
    assert g.k2(rfft=False).shape == (8, 6, 5)
    full = g.kvectors(rfft=False, sparse=False)
    assert all(k.shape == (8, 6, 5) for k in full)


def test_immutable_and_hashable():
    g = Grid((8, 8), 1.0)
    assert hash(g) == hash(Grid((8, 8), (1.0, 1.0)))
    assert g == Grid([8, 8], 1.0)
    assert {g: 1}[Grid((8, 8), 1.0)] == 1
    with pytest.raises(AttributeError):
        g.shape = (4, 4)


@pytest.mark.parametrize("kwargs, word", [
    (dict(shape=(), box=1.0), "shape"),
    (dict(shape=(4, 4, 4, 4), box=1.0), "shape"),
    (dict(shape=(0, 4), box=1.0), "shape"),
    (dict(shape=(4.5,), box=1.0), "shape"),
    (dict(shape=(4, 4), box=(1.0, -1.0)), "box"),
    (dict(shape=(4, 4), box=(1.0, 2.0, 3.0)), "box"),
    (dict(shape=(4,), box=np.inf), "box"),
    (dict(shape=(4,), box=1.0, origin=np.nan), "origin"),
    (dict(shape=(4, 4), box=1.0, periodic=(True,)), "periodic"),
    (dict(shape=(4, 4), box=1.0, periodic="yes"), "periodic"),
])
def test_invalid_arguments_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Grid(**kwargs)


def test_contains_only_checks_bounded_axes():
    g = Grid((4, 4), 1.0, periodic=(True, False))
    inside = g.contains(np.array([[5.0, 0.5], [0.5, 1.0], [0.5, -0.01], [-3.0, 0.0]]))
    assert inside.tolist() == [True, False, False, True]
