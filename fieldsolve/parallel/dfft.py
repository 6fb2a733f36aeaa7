"""Real-to-complex FFTs of a decomposed grid, in fieldsolve's NumPy convention (unnormalised
forward, ``1/N`` backward).

A split mesh is transformed by slabs, with :mod:`fieldsolve.fft` (its backend, threads and
plans) for every local transform: a real-to-complex transform of the rank's planes over axes
``1..``, one global transpose (:class:`.transpose.Transpose`: one ``Alltoallw`` with subarray
datatypes, no packing copies) to the rank's block of the spectrum -- every plane of axis 0 and
of the middle axes, the rank's share of the halved last axis (the lower ranks one larger, as
:func:`k_slices` says) -- and a complex transform along axis 0 in place; backward in reverse.
Nothing is kept between calls but the transposes' MPI datatypes: a transform allocates one
complex slab besides its output (about twice the real slab ``F``) and frees it. One rank, or a
replicated 1-D mesh: the serial :mod:`fieldsolve.fft` on the whole mesh.
"""
from __future__ import annotations

import numpy as np

from .. import fft
from . import halo
from .transpose import Transpose, split

__all__ = ["rfftn", "irfftn", "irfftn_each", "k_slices", "empty"]

_TRANSPOSES: dict = {}


def k_slices(decomp):
    """This rank's block of the global real-FFT layout (slices per axis)."""
    n = decomp.grid.shape
    if not decomp.split:
        return tuple(slice(0, m) for m in decomp.grid.rfft_shape)
    starts, counts = split(n[-1] // 2 + 1, decomp.size)
    q0 = starts[decomp.rank]
    return tuple(slice(0, m) for m in n[:-1]) + (slice(q0, q0 + counts[decomp.rank]),)


def empty(shape, dtype):
    """An uninitialised array aligned as FFTW wants it (with the pyFFTW backend)."""
    from ..poisson import _empty_aligned  # FFTW's SIMD alignment (poisson imports this module)

    return _empty_aligned(shape, dtype)


def _slab_shape(decomp):
    """This rank's planes after the real-to-complex transform along the other axes."""
    return decomp.local_shape[:-1] + (decomp.grid.shape[-1] // 2 + 1,)


def _transpose(decomp, cdt):
    """The slab <-> block transpose of a split decomposition for complex ``cdt``, cached."""
    key = (decomp.grid.shape, np.dtype(cdt), id(decomp.comm))  # the transpose holds the comm
    T = _TRANSPOSES.get(key)
    if T is None:
        T = _TRANSPOSES[key] = Transpose(decomp.comm, cdt, _slab_shape(decomp), decomp.block.rfft_shape,
                                         (decomp.starts, decomp.counts),
                                         split(decomp.grid.shape[-1] // 2 + 1, decomp.size))
    return T


def _local_axes(decomp):
    return tuple(range(1, decomp.grid.ndim))


def _forward(decomp, x, out):
    """One real slab ``x`` -> this rank's spectrum block ``out``."""
    A = fft.rfftn(x, axes=_local_axes(decomp))
    _transpose(decomp, A.dtype).forward(A, out)
    del A
    if out.size:  # fewer columns than ranks leaves a rank without any
        fft.execute("c2c_f", out, out, (0,))


def _c2r_into(W, out, axes, size):
    """``out = c2r(W) / size`` over ``axes``: the c2r in place in ``W``'s buffer (FFTW's padded
    layout; ``W`` C-contiguous, destroyed), then scaled into ``out`` (no real array of its own)."""
    real = W.view(fft._COMPLEX[W.dtype])[..., :out.shape[-1]]
    fft.execute("c2r", W, real, axes)
    np.multiply(real, 1.0 / float(size), out=out)


def _fits(decomp, lo, hi):
    """The transposed complex slab (FFTW's padded rows, ``2 h`` reals for ``n`` reals) fits at
    the start of a slab's room of ``lo``/``hi`` more planes, and moving its planes up to their
    place, last first, never overwrites a plane still to be read: ``lo n_last >= (n0 - 1) (2 h -
    n_last)`` (a few hundred planes per rank and fewer: 256^3 on 2 ranks and up)."""
    n0, n_last = decomp.local_shape[0], decomp.grid.shape[-1]
    pad = 2 * (n_last // 2 + 1) - n_last
    return n0 * pad <= (lo + hi) * n_last and lo * n_last >= (n0 - 1) * pad


def _backward(decomp, X, out, room=None):
    """This rank's spectrum block ``X`` (C-contiguous, destroyed) -> its real slab ``out``.
    ``room``: ``(ext, lo)``, ``out`` being ``ext[lo:lo + n0]`` of a C-contiguous ``ext`` that
    :func:`_fits`: the transposed slab goes to the start of ``ext`` itself (no complex slab of
    its own), the c2r runs in place there and the planes move up into ``out``, scaled."""
    if X.size:
        fft.execute("c2c_b", X, X, (0,))
    T = _transpose(decomp, X.dtype)
    if room is None:
        A = empty(_slab_shape(decomp), X.dtype)
        T.backward(X, A)
        _c2r_into(A, out, _local_axes(decomp), decomp.grid.size)
        return
    ext, lo = room
    shape = _slab_shape(decomp)
    flat = ext.reshape(-1)[:2 * int(np.prod(shape))]
    A = flat.view(X.dtype).reshape(shape)
    T.backward(X, A)
    real = flat.reshape(shape[:-1] + (2 * shape[-1],))[..., :out.shape[-1]]
    fft.execute("c2r", A, real, _local_axes(decomp))
    scale = 1.0 / float(decomp.grid.size)
    for j in reversed(range(out.shape[0])):  # last first: nothing is overwritten before it is read
        np.multiply(real[j], scale, out=ext[lo + j])


def rfftn(decomp, local):
    """Forward transform of this rank's slab (``decomp.local_shape``, leading component axes
    allowed) into its block of the spectrum (``decomp.block.rfft_shape``)."""
    local = fft._real_input(local)
    nd = decomp.grid.ndim
    if not decomp.split:
        return fft.rfftn(local, axes=tuple(range(local.ndim - nd, local.ndim)))
    lead = local.shape[:local.ndim - nd]
    out = empty(lead + decomp.block.rfft_shape, np.result_type(local.dtype, np.complex64))
    for c in np.ndindex(*lead):
        _forward(decomp, local[c], out[c])
    return out


def irfftn(decomp, local_hat, overwrite_input=False):
    """Backward transform of this rank's block of a spectrum into its real slab (``1/N``);
    ``overwrite_input=True`` lets the transform destroy ``local_hat`` (saves a copy)."""
    local_hat = fft._complex_input(local_hat)
    nd = decomp.grid.ndim
    if not decomp.split:
        return fft.irfftn(local_hat, decomp.grid.shape, axes=tuple(range(local_hat.ndim - nd, local_hat.ndim)),
                          overwrite_input=overwrite_input)
    lead = local_hat.shape[:local_hat.ndim - nd]
    out = empty(lead + decomp.local_shape, fft._COMPLEX[local_hat.dtype])
    for c in np.ndindex(*lead):
        X = local_hat[c]
        X = np.ascontiguousarray(X) if overwrite_input else np.array(X, order="C")
        _backward(decomp, X, out[c])
    return out


def irfftn_each(decomp, X, symbols, factor, dtype, out=None, overwrite_input=False):
    """``out[a] = irfftn(X * (factor * symbols[a]))`` for per-axis real symbols (a gradient of the
    potential whose spectrum is ``X``): components first, ``(len(symbols), *decomp.local_shape)``
    (``out``: an array of that shape to fill, C-contiguous per component). One complex work
    array serves every component; with ``overwrite_input=True`` the last one is made in ``X``
    itself (destroyed), the work array freed first: one complex array less at the peak."""
    if out is None:
        out = empty((len(symbols),) + decomp.local_shape, dtype)
    room = halo.room(out) if decomp.split else None  # (ext, lo, hi) of a halo.with_room field
    if room is not None and not (room[0].flags.c_contiguous and _fits(decomp, *room[1:])):
        room = None
    work = None
    for a, s in enumerate(symbols):
        s = factor * s
        cdt = np.result_type(X, s)
        if a == len(symbols) - 1 and overwrite_input and cdt == X.dtype and X.flags.c_contiguous:
            work = X
        elif work is None:
            work = empty(X.shape, cdt)
        np.multiply(X, s, out=work)
        if fft._COMPLEX[work.dtype] != out.dtype:
            out[a] = irfftn(decomp, work, overwrite_input=True)  # through a real array of its own
        elif decomp.split:  # into the room of E's ghost planes when it fits (no complex slab)
            _backward(decomp, work, out[a], None if room is None else (room[0][a], room[1]))
        else:
            _c2r_into(work, out[a], tuple(range(decomp.grid.ndim)), decomp.grid.size)
    return out
