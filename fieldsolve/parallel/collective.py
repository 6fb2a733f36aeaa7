"""Reductions over the ranks of a decomposition, for the distributed solvers and diagnostics.

Only a split mesh is reduced: on one rank, and on a replicated 1-D mesh (every rank holds the
whole mesh and computes the whole, serial result), the local value already is the global one.
Errors found on one rank's data are agreed on with :func:`any_rank` before anything raises, so
every rank raises the same error and none waits in a collective for a rank that stopped.
"""
from __future__ import annotations

import numpy as np

from . import mpi

__all__ = ["allsum", "allmax", "allmean", "allnorm", "any_rank", "agreed"]


def _reduce(decomp, value, op_name):
    if not decomp.split:
        return value
    value = float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)
    return mpi.allreduce(decomp.comm, value, op_name)


def allsum(decomp, value):
    """Sum over the ranks of a scalar (a float back) or an array (float64)."""
    return _reduce(decomp, value, "SUM")


def allmax(decomp, value):
    """Maximum over the ranks of a scalar or (elementwise) an array."""
    return _reduce(decomp, value, "MAX")


def allmean(decomp, x) -> float:
    """Volume average ``sum(x) / N`` of a field over the whole grid (``x.mean()`` serially; the
    slabs' float64 sums added over the ranks when split)."""
    if not decomp.split:
        return float(x.mean())
    return allsum(decomp, float(x.sum(dtype=np.float64))) / decomp.grid.size


def allnorm(decomp, x) -> float:
    """L2 norm ``sqrt(sum x^2)`` of a field (or of its components) over the whole grid
    (``np.linalg.norm(x)`` serially; the slabs' squared norms added over the ranks when split)."""
    if not decomp.split:
        return float(np.linalg.norm(x))
    x = np.ravel(x)
    return float(np.sqrt(allsum(decomp, float(np.dot(x, x)))))


def any_rank(decomp, flag) -> bool:
    """True on every rank when ``flag`` is true on any rank."""
    return bool(allmax(decomp, 1.0 if flag else 0.0))


def agreed(decomp, check, *args, **kwargs):
    """``check(*args, **kwargs)`` (an input check that returns the checked value or raises
    ``ValueError``) on every rank; if it raised on any rank, every rank raises: its own error,
    or the first failing rank's message (naming that rank)."""
    try:
        value, err = check(*args, **kwargs), None
    except ValueError as exc:
        value, err = None, exc
    if decomp.split:
        msgs = decomp.comm.allgather(None if err is None else str(err))
        failed = [r for r, m in enumerate(msgs) if m is not None]
        if failed and err is None:
            raise mpi.everywhere(ValueError(f"rank {failed[0]}: {msgs[failed[0]]}"))
        if err is not None:
            raise mpi.everywhere(err)
    if err is not None:
        raise err
    return value
