"""Real-to-complex FFTs of a decomposed grid, in fieldsolve's NumPy convention (unnormalised
forward, ``1/N`` backward): mpi4py-fft's slab transform when the mesh is split, the serial
:mod:`fieldsolve.fft` otherwise (one rank, or a replicated 1-D mesh)."""
from __future__ import annotations

import numpy as np

from .. import fft

__all__ = ["rfftn", "irfftn", "irfftn_each", "pfft"]

_PLANS: dict = {}


def pfft(decomp, dtype):
    """The mpi4py-fft plan of a split decomposition for ``dtype`` (float32/float64), cached."""
    dtype = np.dtype(dtype)
    key = (decomp.grid.shape, dtype, id(decomp.comm))
    plan = _PLANS.get(key)
    if plan is None:
        from mpi4py_fft import PFFT

        plan = PFFT(decomp.comm, decomp.grid.shape, axes=tuple(range(decomp.grid.ndim)), dtype=dtype,
                    grid=(-1,), collapse=True, backend="fftw")
        if tuple(s.start for s in plan.local_slice(False)) [:1] != (decomp.start,):
            raise RuntimeError("mpi4py-fft splits the planes differently from fieldsolve")  # pragma: no cover
        _PLANS[key] = plan
    return plan


def _real_dtype(a):
    return np.float32 if a.dtype in (np.float32, np.complex64) else np.float64


def rfftn(decomp, local):
    """Forward transform of this rank's slab (``decomp.local_shape``, leading component axes
    allowed) into its block of the spectrum (``decomp.block.rfft_shape``)."""
    local = np.asarray(local)
    nd = decomp.grid.ndim
    if not decomp.split:
        return fft.rfftn(local, axes=tuple(range(local.ndim - nd, local.ndim)))
    plan = pfft(decomp, _real_dtype(local))
    lead = local.shape[:local.ndim - nd]
    out = np.empty(lead + plan.forward.output_array.shape, plan.forward.output_array.dtype)
    for c in np.ndindex(*lead):
        plan.forward.input_array[...] = local[c]
        out[c] = plan.forward(normalize=False)
    return out


def irfftn(decomp, local_hat, overwrite_input=False):
    """Backward transform of this rank's block of a spectrum into its real slab (``1/N``);
    ``overwrite_input=True`` lets the serial transform destroy ``local_hat`` (saves a copy)."""
    local_hat = np.asarray(local_hat)
    nd = decomp.grid.ndim
    if not decomp.split:
        return fft.irfftn(local_hat, decomp.grid.shape, axes=tuple(range(local_hat.ndim - nd, local_hat.ndim)),
                          overwrite_input=overwrite_input)
    plan = pfft(decomp, _real_dtype(local_hat))
    lead = local_hat.shape[:local_hat.ndim - nd]
    out = np.empty(lead + plan.backward.output_array.shape, plan.backward.output_array.dtype)
    for c in np.ndindex(*lead):
        plan.backward.input_array[...] = local_hat[c]
        out[c] = plan.backward(normalize=True)
    return out


def irfftn_each(decomp, X, symbols, factor, dtype):
    """``out[a] = irfftn(X * (factor * symbols[a]))`` for per-axis real symbols (a gradient of the
    potential whose spectrum is ``X``): components first, ``(len(symbols), *decomp.local_shape)``."""
    out = np.empty((len(symbols),) + decomp.local_shape, dtype=dtype)
    for a, s in enumerate(symbols):
        out[a] = irfftn(decomp, X * (factor * s), overwrite_input=True)
    return out
