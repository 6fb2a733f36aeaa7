"""Real and complex n-D FFTs used by every fieldsolve module.

Backends: pyFFTW (default; planned once per shape/dtype/axes/thread count through FFTW's wisdom, a
fresh cheap FFTW object per call so that no object is shared between threads or pins memory) and
``scipy.fft`` (fallback when pyFFTW is missing, or on request with ``set_backend("scipy")``).

Planning (pyFFTW): the default effort ``"auto"`` plans transforms of fewer than 2**20 points
with ``FFTW_ESTIMATE`` (instant, and as fast as measured plans there) and larger ones with
``FFTW_MEASURE``, which makes a 256^3 round trip about 3x faster than an estimated plan but
costs seconds of planning per shape. Measured plans are kept as FFTW wisdom in a file, so each
shape is measured once per machine: ``$FIELDSOLVE_FFTW_WISDOM`` if set (``"off"`` disables the
file), else ``fftw-wisdom`` in ``$XDG_CACHE_HOME/fieldsolve`` (default ``~/.cache/fieldsolve``).
Measured plans may differ between machines, so FFT results agree across machines to rounding
only (bitwise within one process).

Normalisation is NumPy's ``"backward"`` convention: the forward transform is unnormalised,
``X_m = sum_j x_j exp(-2 pi i j m / n)``, and the inverse divides by the number of points, so
``irfftn(rfftn(x), x.shape) == x``. Float32 input gives complex64 spectra (and back); any other
real input is promoted to float64.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import warnings

import numpy as np

from ._threads import get_num_threads

try:  # pragma: no cover - exercised whichever way the environment goes
    import pyfftw

    _HAVE_PYFFTW = True
except ImportError:  # pragma: no cover
    pyfftw = None
    _HAVE_PYFFTW = False

__all__ = ["rfftn", "irfftn", "fftn", "ifftn", "set_backend", "get_backend",
           "set_planner_effort", "get_planner_effort", "wisdom_path", "available_backends",
           "execute", "multiply_real", "multiply_mirrored", "mirrored_shape"]

_settings = {"backend": "pyfftw" if _HAVE_PYFFTW else "scipy", "effort": "auto"}
_MEASURE_FROM = 1 << 20  # "auto": transforms of at least this many points get FFTW_MEASURE
_EFFORTS = ("auto", "FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
_measured: set = set()
_wisdom = {"loaded": False}
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
    """pyFFTW planner effort: ``"auto"`` (default: ``FFTW_ESTIMATE`` below 2**20 points,
    ``FFTW_MEASURE`` from there, measured plans remembered in the wisdom file), or one FFTW
    flag for every size: ``FFTW_ESTIMATE`` (instant), ``FFTW_MEASURE``, ``FFTW_PATIENT``,
    ``FFTW_EXHAUSTIVE`` (ever longer planning for ever faster transforms)."""
    if effort not in _EFFORTS:
        raise ValueError(f"planner effort {effort!r} unknown; allowed: {_EFFORTS}")
    _settings["effort"] = effort


def get_planner_effort() -> str:
    return _settings["effort"]


def wisdom_path():
    """The FFTW wisdom file used for measured plans, or ``None`` when disabled."""
    env = os.environ.get("FIELDSOLVE_FFTW_WISDOM")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "none", "0") else env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fieldsolve", "fftw-wisdom")


def _load_wisdom():
    """Import the wisdom file once per process; an unreadable file is ignored (with a warning:
    plans are then measured again, results are unaffected)."""
    _wisdom["loaded"] = True
    path = wisdom_path()
    if path is None or not os.path.exists(path):
        return
    try:
        with open(path, encoding="ascii") as fh:  # JSON, not pickle: a cache must not run code
            pyfftw.import_wisdom(tuple(w.encode("ascii") for w in json.load(fh)))
    except Exception as exc:  # noqa: BLE001 - a cache must never break a transform
        warnings.warn(f"fieldsolve.fft: ignoring unreadable FFTW wisdom file {path!r} ({exc})",
                      RuntimeWarning, stacklevel=4)


def _save_wisdom():
    """Write all wisdom atomically (temporary file + rename): a crash never leaves half a file."""
    path = wisdom_path()
    if path is None:
        return
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".fftw-wisdom-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                json.dump([w.decode("ascii") for w in pyfftw.export_wisdom()], fh)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        warnings.warn(f"fieldsolve.fft: cannot write FFTW wisdom to {path!r} ({exc}); measured "
                      "plans will be re-measured in the next process", RuntimeWarning, stacklevel=4)


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


def _effort_for(npts):
    """The planner flag for a transform touching ``npts`` points (the whole batch)."""
    effort = _settings["effort"]
    if effort == "auto":
        return "FFTW_MEASURE" if npts >= _MEASURE_FROM else "FFTW_ESTIMATE"
    return effort


def _ensure_plan(key, scratch, kind, effort, args):
    """Make sure FFTW has wisdom for the problem ``key`` (once per process): from the wisdom
    file, or measured on the arrays ``scratch()`` returns (measuring overwrites its arrays, so
    never on the caller's)."""
    if key in _measured:
        return
    with _plan_lock:
        if not _wisdom["loaded"]:
            _load_wisdom()
        if key not in _measured:
            _plan_on(*scratch(), kind, effort, args)
            _measured.add(key)


def _plan_on(scratch_in, scratch_out, kind, effort, args):
    """Plan from wisdom if FFTW has it; otherwise measure and save the new wisdom to disk."""
    try:
        pyfftw.FFTW(scratch_in, scratch_out, flags=(effort, "FFTW_WISDOM_ONLY", *_FLAGS[kind]),
                    **args)
    except RuntimeError:  # no wisdom yet: measure, then remember it on disk
        pyfftw.FFTW(scratch_in, scratch_out, flags=(effort, *_FLAGS[kind]), **args)
        _save_wisdom()


def _fftw_object(x, out, kind, effort, args):
    """An FFTW object on the caller's arrays, planned from wisdom (never measured on them:
    that would overwrite them); if the wisdom does not fit these arrays, an estimated plan."""
    if effort == "FFTW_ESTIMATE":
        return pyfftw.FFTW(x, out, flags=(effort, *_FLAGS[kind]), **args)
    try:
        return pyfftw.FFTW(x, out, flags=(effort, "FFTW_WISDOM_ONLY", *_FLAGS[kind]), **args)
    except RuntimeError:
        return pyfftw.FFTW(x, out, flags=("FFTW_ESTIMATE", *_FLAGS[kind]), **args)


def _execute(kind, x, out_shape, out_dtype, axes):
    """Run one transform with a fresh FFTW object on the caller's arrays.

    FFTW objects are not cached: an object pins its input and output arrays (a cache of them
    held several padded arrays alive per shape), while re-creating one is cheap (~0.1 ms)
    because FFTW's planner remembers what it planned (wisdom). Measured plans are made on
    scratch arrays first (:func:`_ensure_plan`), since measuring overwrites its arrays. Objects are
    per call, so threads never share one."""
    threads = get_num_threads()
    effort = _effort_for(max(x.size, int(np.prod(out_shape))))
    args = dict(axes=axes, direction=_DIRECTION[kind], threads=threads)
    out = pyfftw.empty_aligned(out_shape, out_dtype)
    if effort != "FFTW_ESTIMATE":
        if not pyfftw.is_byte_aligned(x) or not x.flags.c_contiguous:
            x = pyfftw.byte_align(np.ascontiguousarray(x))
        key = (kind, x.shape, x.dtype.str, axes, threads, effort)
        _ensure_plan(key, lambda: (pyfftw.empty_aligned(x.shape, x.dtype),
                                   pyfftw.empty_aligned(out_shape, out_dtype)),
                     kind, effort, args)
    obj = _fftw_object(x, out, kind, effort, args)
    obj(normalise_idft=True)
    return out


def _byte_bounds(a):
    """First and one-past-last byte address that the view ``a`` touches."""
    lo = hi = a.ctypes.data
    for n, st in zip(a.shape, a.strides):
        lo += min(0, (n - 1) * st)
        hi += max(0, (n - 1) * st)
    return lo, hi + a.itemsize


def execute(kind, x, out, axes):
    """Unnormalised transform of the array view ``x`` into the view ``out`` along ``axes``.

    ``kind`` is ``"r2c"``, ``"c2r"``, ``"c2c_f"`` (forward) or ``"c2c_b"`` (backward, not
    divided by n). ``x`` and ``out`` may be strided views of one buffer, and may alias
    (in-place: for r2c/c2r the real view of a complex buffer, FFTW's padded layout). This is
    what the pruned free-space Poisson solver runs on its one padded buffer. ``c2r`` destroys
    ``x``. Measured plans are made on a scratch buffer with the same strides, offsets and
    alignment, since measuring overwrites its arrays."""
    axes = _axes(x.ndim, axes)
    if kind not in _DIRECTION:
        raise ValueError(f"kind={kind!r}; choose one of {tuple(_DIRECTION)}")
    if _settings["backend"] == "scipy":
        import scipy.fft

        w = get_num_threads()
        if kind == "r2c":
            out[...] = scipy.fft.rfftn(x, axes=axes, workers=w)
        elif kind == "c2r":
            s = [out.shape[a] for a in axes]
            out[...] = scipy.fft.irfftn(x, s=s, axes=axes, workers=w, norm="forward")
        else:
            fn = scipy.fft.fftn if kind == "c2c_f" else scipy.fft.ifftn
            out[...] = fn(x, axes=axes, workers=w, norm="backward" if kind == "c2c_f" else "forward")
        return out
    threads = get_num_threads()
    effort = _effort_for(max(x.size, out.size))
    args = dict(axes=axes, direction=_DIRECTION[kind], threads=threads)
    if effort != "FFTW_ESTIMATE":
        (xlo, xhi), (olo, ohi) = _byte_bounds(x), _byte_bounds(out)
        lo, hi = min(xlo, olo), max(xhi, ohi)
        xoff, ooff, align = xlo - lo, olo - lo, pyfftw.simd_alignment
        key = (kind, x.shape, x.strides, x.dtype.str, out.shape, out.strides, ooff - xoff,
               lo % align, axes, threads, effort)

        def scratch():  # same strides, relative offset and alignment as (x, out)
            base = pyfftw.empty_aligned(hi - lo + align, np.uint8)[lo % align:]
            return (np.ndarray(x.shape, x.dtype, buffer=base, offset=xoff, strides=x.strides),
                    np.ndarray(out.shape, out.dtype, buffer=base, offset=ooff,
                               strides=out.strides))

        _ensure_plan(key, scratch, kind, effort, args)
    _fftw_object(x, out, kind, effort, args).execute()
    return out


def multiply_real(X, r):
    """``X *= r`` in place for a complex spectrum ``X`` and a real symbol ``r`` of the same
    shape (Green's functions, filters, window transfers), threaded and without the complex
    temporary NumPy makes of ``r``. Returns ``X``."""
    if (X.shape == r.shape and X.flags.c_contiguous and r.flags.c_contiguous
            and _REAL.get(r.dtype) == X.dtype):
        from ._fft_jit import mul_real

        mul_real(X.view(r.dtype).reshape(-1, 2), r.reshape(-1))
    else:
        X *= r
    return X


def mirrored_shape(shape):
    """Shape of the half that :func:`multiply_mirrored` stores of a transfer function on the
    rfft layout ``shape``: ``n // 2 + 1`` on every axis but the last (already halved)."""
    return tuple(n // 2 + 1 for n in shape[:-1]) + tuple(shape[-1:])


def multiply_mirrored(X, r, block=None):
    """``X *= r`` in place, where ``r`` is a real transfer function that is even on every axis
    but the last of the rfft layout (``r[i] = r[n - i]``: free-space and mixed Green's
    functions) and is stored on :func:`mirrored_shape` only (the full layout is up to
    ``2^(d-1)`` times larger). Returns ``X``.

    ``block``: ``X`` is the block ``block[0]`` (slices per axis) of a spectrum whose whole rfft
    layout has the shape ``block[1]`` (a rank's share of a distributed spectrum)."""
    d = X.ndim
    slices, full = block if block is not None else (tuple(slice(0, n) for n in X.shape), X.shape)
    start = [s.start for s in slices]
    if r.shape != mirrored_shape(full):
        raise ValueError(f"transfer function of shape {r.shape} for a spectrum of shape {full}; "
                         f"expected {mirrored_shape(full)}")
    X3 = X.reshape((1,) * (3 - d) + X.shape)
    r3 = np.ascontiguousarray(r.reshape((1,) * (3 - d) + r.shape), dtype=_COMPLEX[X.dtype])
    o0, o1, o2 = [0] * (3 - d) + start
    P0, P1 = ((1,) * (3 - d) + tuple(full))[:2]
    if X3.flags.c_contiguous:
        from ._fft_jit import mul_mirrored

        mul_mirrored(X3.view(r3.dtype).reshape(X3.shape + (2,)), r3, o0, o1, o2, P0, P1)
    else:  # a strided view: NumPy indexing (rare; costs a temporary)
        idx = np.ix_(*[np.minimum(o + np.arange(n), P - o - np.arange(n))
                       for o, n, P in zip((o0, o1), X3.shape[:2], (P0, P1))],
                     o2 + np.arange(X3.shape[2]))
        X3 *= r3[idx]
    return X


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

