"""Real and complex n-D FFTs used by every fieldsolve module.

Backends: pyFFTW (default; planned once per shape/dtype/axes/thread count through FFTW's wisdom, a
fresh cheap FFTW object per call so that no object is shared between threads or pins memory) and
``scipy.fft`` (fallback when pyFFTW is missing, or on request with ``set_backend("scipy")``).

Normalisation is NumPy's ``"backward"`` convention: the forward transform is unnormalised,
``X_m = sum_j x_j exp(-2 pi i j m / n)``, and the inverse divides by the number of points, so
``irfftn(rfftn(x), x.shape) == x``. Float32 input gives complex64 spectra (and back); any other
real input is promoted to float64.
"""
from __future__ import annotations

import threading

import numpy as np

from ._threads import get_num_threads

try:  # pragma: no cover - exercised whichever way the environment goes
    import pyfftw

    _HAVE_PYFFTW = True
except ImportError:  # pragma: no cover
    pyfftw = None
    _HAVE_PYFFTW = False

__all__ = ["rfftn", "irfftn", "fftn", "ifftn", "set_backend", "get_backend",
           "set_planner_effort", "available_backends"]

_settings = {"backend": "pyfftw" if _HAVE_PYFFTW else "scipy", "effort": "FFTW_ESTIMATE"}
_measured: set = set()
_DIRECTION = {"r2c": "FFTW_FORWARD", "c2c_f": "FFTW_FORWARD", "c2r": "FFTW_BACKWARD",
              "c2c_b": "FFTW_BACKWARD"}
# c2r always destroys its input (we hand it a private copy); the others must preserve it
_FLAGS = {"r2c": (), "c2c_f": (), "c2c_b": (), "c2r": ("FFTW_DESTROY_INPUT",)}
_plan_lock = threading.Lock()
_REAL = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
_COMPLEX = {v: k for k, v in _REAL.items()}


def available_backends() -> tuple:
    return ("pyfftw", "scipy") if _HAVE_PYFFTW else ("scipy",)


def set_backend(name: str) -> None:
    """Choose ``"pyfftw"`` or ``"scipy"``."""
    if name not in ("pyfftw", "scipy"):
        raise ValueError(f"FFT backend {name!r} unknown; choose 'pyfftw' or 'scipy'")
    if name == "pyfftw" and not _HAVE_PYFFTW:
        raise ValueError("FFT backend 'pyfftw' requested but pyfftw is not installed")
    _settings["backend"] = name


def get_backend() -> str:
    return _settings["backend"]


def set_planner_effort(effort: str) -> None:
    """pyFFTW planner flag: ``FFTW_ESTIMATE`` (default, instant) or ``FFTW_MEASURE``
    (faster transforms at >= 256^3 after a planning cost of seconds per shape)."""
    allowed = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
    if effort not in allowed:
        raise ValueError(f"planner effort {effort!r} unknown; allowed: {allowed}")
    _settings["effort"] = effort


def _axes(ndim, axes):
    if axes is None:
        return tuple(range(ndim))
    axes = tuple(int(a) % ndim for a in np.atleast_1d(axes))
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes={axes} repeats an axis")
    return axes


def _real_input(x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise ValueError("rfftn expects a real array; use fftn for complex input")
    if x.dtype not in _REAL:
        x = x.astype(np.float64)
    return x


def _complex_input(x):
    x = np.asarray(x)
    if x.dtype not in _COMPLEX:
        x = x.astype(np.complex64 if x.dtype == np.float32 else np.complex128)
    return x


def _execute(kind, x, out_shape, out_dtype, axes):
    """Run one transform with a fresh FFTW object on the caller's arrays.

    FFTW objects are not cached: an object pins its input and output arrays (a cache of them
    held several padded arrays alive per shape), while re-creating one is cheap (~0.1 ms)
    because FFTW's planner remembers what it planned (wisdom). With FFTW_MEASURE the first plan
    of each problem is made on scratch arrays, since measuring overwrites its arrays. Objects
    are per call, so threads never share one."""
    threads = get_num_threads()
    effort = _settings["effort"]
    out = pyfftw.empty_aligned(out_shape, out_dtype)
    if effort != "FFTW_ESTIMATE":
        if not pyfftw.is_byte_aligned(x) or not x.flags.c_contiguous:
            x = pyfftw.byte_align(np.ascontiguousarray(x))
        key = (kind, x.shape, x.dtype.str, axes, threads, effort)
        if key not in _measured:
            with _plan_lock:
                scratch_in = pyfftw.empty_aligned(x.shape, x.dtype)
                scratch_out = pyfftw.empty_aligned(out_shape, out_dtype)
                pyfftw.FFTW(scratch_in, scratch_out, axes=axes, direction=_DIRECTION[kind],
                            flags=(effort, *_FLAGS[kind]), threads=threads)
                _measured.add(key)
    obj = pyfftw.FFTW(x, out, axes=axes, direction=_DIRECTION[kind],
                      flags=(effort, *_FLAGS[kind]), threads=threads)
    obj(normalise_idft=True)
    return out


def rfftn(x, axes=None):
    """Forward real-to-complex transform over ``axes`` (default all); the last axis in
    ``axes`` is halved to ``n//2 + 1``. Unnormalised."""
    x = _real_input(x)
    axes = _axes(x.ndim, axes)
    if _settings["backend"] == "scipy":
        import scipy.fft

        return scipy.fft.rfftn(x, axes=axes, workers=get_num_threads())
    out_shape = list(x.shape)
    out_shape[axes[-1]] = x.shape[axes[-1]] // 2 + 1
    cd = _REAL[x.dtype]
    return _execute("r2c", x, tuple(out_shape), cd, axes)


def irfftn(x, s, axes=None, overwrite_input=False):
    """Inverse of :func:`rfftn`; ``s`` is the real output shape along ``axes`` (required,
    since odd and even lengths share a half spectrum). Divides by ``prod(s)``.

    The input is preserved unless ``overwrite_input=True`` (c2r transforms destroy it)."""
    x = _complex_input(x)
    axes = _axes(x.ndim, axes)
    s = tuple(int(v) for v in np.atleast_1d(s))
    if len(s) != len(axes):
        raise ValueError(f"irfftn: s={s} must give one length per transformed axis {axes}")
    if x.shape[axes[-1]] != s[-1] // 2 + 1:
        raise ValueError(f"irfftn: last transformed axis has {x.shape[axes[-1]]} entries, "
                         f"expected {s[-1] // 2 + 1} for output length {s[-1]}")
    if _settings["backend"] == "scipy":
        import scipy.fft

        return scipy.fft.irfftn(x, s=s, axes=axes, workers=get_num_threads(),
                                overwrite_x=overwrite_input)
    out_shape = list(x.shape)
    for a, n in zip(axes, s):
        out_shape[a] = n
    rd = _COMPLEX[x.dtype]
    if not overwrite_input:
        x = x.copy()
    return _execute("c2r", x, tuple(out_shape), rd, axes)


def fftn(x, axes=None):
    """Forward complex transform over ``axes`` (default all). Unnormalised."""
    x = _complex_input(x)
    axes = _axes(x.ndim, axes)
    if _settings["backend"] == "scipy":
        import scipy.fft

        return scipy.fft.fftn(x, axes=axes, workers=get_num_threads())
    return _execute("c2c_f", x, x.shape, x.dtype, axes)


def ifftn(x, axes=None):
    """Inverse complex transform over ``axes``; divides by the number of transformed points."""
    x = _complex_input(x)
    axes = _axes(x.ndim, axes)
    if _settings["backend"] == "scipy":
        import scipy.fft

        return scipy.fft.ifftn(x, axes=axes, workers=get_num_threads())
    return _execute("c2c_b", x, x.shape, x.dtype, axes)

