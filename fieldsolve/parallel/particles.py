"""Particles on a decomposed grid: migration to the rank that owns them, and the distributed
deposit and readout.

A particle belongs to the rank holding its *home plane*: its NGP cell on axis 0 computed with
the deposit kernels' own arithmetic (``floor((x0 - o0)/h0)`` but for rounding at a cell face),
after the exact wrap of coordinates far outside a periodic box, clipped to the grid on a bounded
axis 0 (a particle outside then reaches a rank that reports it, as serial deposit does).
:func:`migrate` moves particles there; :func:`deposit` and :func:`interpolate` take each rank's
own particles and its slab of the mesh, and refuse particles of other ranks.

A rank paints onto its slab extended by ``g = order // 2`` ghost planes on each side (one more
above with interlacing, for the copy shifted by half a cell) and adds the ghosts into its
neighbours (:func:`.halo.reduce`); readout first fills those ghosts from the neighbours
(:func:`.halo.extend`). The kernels place the extended slab with an integer plane offset applied
after their floating-point work, so every particle gets the serial cells and weights bit for
bit: readout equals serial exactly, and deposit differs only by the order of the additions into
a cell (particles in another order, ghost planes added last). Interlacing combines the two
paints on the distributed spectrum (:mod:`.dfft`): equal to serial to FFT rounding.

Serial use (no communicator, or one rank) calls :func:`fieldsolve.deposit` and
:func:`fieldsolve.interpolate` as they are. A replicated 1-D mesh: each rank deposits its own
particles onto the whole mesh and the ranks add them up (``Allreduce``); readout reads the whole
mesh, which every rank holds.

Errors in a rank's own work (a particle on the wrong rank, NaN positions, stencils leaving a
bounded grid, a wrong shape) are raised on every rank before any of them enters the next
collective: the failing rank raises its own error, the others a ``ValueError`` naming it. So a
failure never leaves ranks waiting for each other. The price is one small ``allgather`` per
deposit (two per readout: before the halo exchange and after the read).
"""
from __future__ import annotations

import numpy as np

from .. import _assign_jit as K
from .. import assign
from ..kernels.windows import get_window
from . import dfft, halo, mpi

__all__ = ["migrate", "deposit", "interpolate", "owners"]


def _mpi():
    from mpi4py import MPI

    return MPI


def _agree(comm, error):
    """Raise on every rank if ``error`` (an exception or None) is set on any of them: the
    failing rank its own error, the others a ``ValueError`` (``RuntimeError`` if the error was
    not one) naming it."""
    errors = comm.allgather(None if error is None
                            else (isinstance(error, ValueError), f"{type(error).__name__}: {error}"))
    if error is not None:
        raise mpi.everywhere(error)
    for r, e in enumerate(errors):
        if e is not None:
            raise mpi.everywhere((ValueError if e[0] else RuntimeError)(
                f"rank {r} failed, so this rank stops too: {e[1]}"))


def _together(comm, fn, *args):
    """``fn(*args)``, this rank's own work before the next collective, and any error in it
    raised on every rank (:func:`_agree`)."""
    error = result = None
    try:
        result = fn(*args)
    except Exception as exc:  # any error: the other ranks must not wait for this one
        error = exc
    _agree(comm, error)
    return result


def _homes(decomp, x):
    """``(x, rank_of, counts)``: ``x`` with its rows far outside a periodic box wrapped exactly
    as the deposit wraps them (a copy only then), the rank holding each particle's home plane
    (-1: a non-finite position), and the particles per rank (``counts[-1]``: non-finite)."""
    grid = decomp.grid
    orig, ih, shape, per, _, ndim = assign._params(grid, get_window("ngp"))
    if decomp.split:
        table = np.repeat(np.arange(decomp.size, dtype=np.int32), decomp.counts)
    else:  # one rank holds every plane (replicated: this one, as good as any)
        table = np.full(grid.shape[0], decomp.rank if decomp.replicated else 0, np.int32)
    rank_of = np.empty(x.shape[0], np.int32)
    counts = np.zeros(decomp.size + 2, np.int64)
    K.home_ranks(x, orig, ih, shape, per, ndim, table, rank_of, counts)
    if counts[-2]:  # far outside a periodic box: the image the kernels will use
        far = rank_of == -2
        x = assign._wrap_far(grid, x, far)
        again = np.empty(int(counts[-2]), np.int32)
        counts[-2] = 0
        K.home_ranks(np.ascontiguousarray(x[far]), orig, ih, shape, per, ndim, table, again, counts)
        rank_of[far] = again
    return x, rank_of, counts


def owners(decomp, positions):
    """The rank owning each particle (its home plane's), without moving anything; -1 for NaN or
    infinite positions. Local: no communication."""
    return _homes(decomp, assign._positions(decomp.grid, positions))[1]


def _alltoallv(comm, a, order, sendcounts, recvcounts):
    """Rows ``a[order]`` (grouped by destination, ``sendcounts`` each) to their ranks, as raw
    bytes (every dtype arrives bit for bit), one MPI datatype per row."""
    MPI = _mpi()
    out = np.empty((int(recvcounts.sum()),) + a.shape[1:], a.dtype)
    rowbytes = a.dtype.itemsize * int(np.prod(a.shape[1:], dtype=np.int64))
    if rowbytes == 0:
        return out
    send = np.take(a, order, axis=0)
    sdispl = np.concatenate([[0], np.cumsum(sendcounts)[:-1]])
    rdispl = np.concatenate([[0], np.cumsum(recvcounts)[:-1]])
    row = MPI.BYTE.Create_contiguous(rowbytes).Commit()
    try:  # counts in rows, not bytes: MPI's int counts would overflow at 2 GiB per pair
        comm.Alltoallv([send.reshape(-1).view(np.uint8), (sendcounts, sdispl), row],
                       [out.reshape(-1).view(np.uint8), (recvcounts, rdispl), row])
    finally:
        row.Free()
    return out


def migrate(decomp, positions, *arrays):
    """Move every particle to the rank owning its home plane (collective: every rank calls it).

    ``positions`` (N, ndim) and each of ``arrays`` (N, ...) (weights, velocities, ids: any
    dtype, sent as raw bytes so every bit is kept) are this rank's particles. Returns
    ``(positions, [arrays...])``: the particles this rank owns now, grouped by the rank they
    came from in rank order, each group in its previous order (so the result depends on the
    input only). A particle may cross any number of ranks in one call. Positions are moved as
    given (not wrapped). Unsplit (serial, one rank, or a replicated 1-D mesh): returned as
    they are.

    Counts go by ``Alltoall`` and rows by one ``Alltoallv`` per array, grouped by a stable
    counting sort (O(N))."""
    if not decomp.split:
        return positions, list(arrays)
    comm, P = decomp.comm, decomp.size
    error = rank_of = counts = None
    try:
        x = assign._positions(decomp.grid, positions)
        rows = [np.asarray(positions)] + [np.asarray(a) for a in arrays]
        for i, a in enumerate(rows[1:]):
            if a.ndim == 0 or a.shape[0] != x.shape[0]:
                raise ValueError(f"migrate: array {i + 1} has shape {a.shape}; each array needs one "
                                 f"row per particle: ({x.shape[0]}, ...)")
            if a.dtype.hasobject:
                raise ValueError(f"migrate: array {i + 1} holds Python objects, which cannot be sent "
                                 "as bytes; use numeric or fixed-size arrays")
        _, rank_of, counts = _homes(decomp, x)
        if counts[-1]:
            raise ValueError(f"migrate: {counts[-1]} particle position(s) are NaN or infinite on "
                             f"rank {decomp.rank}; nothing was moved")
    except Exception as exc:  # any error: the other ranks must not wait for this one
        error = exc
    # the error flag rides along with the counts: one collective when all is well
    send = np.zeros((P, 2), np.int64)
    if error is None:
        send[:, 0] = counts[:P]
    else:
        send[:, 1] = 1
    recv = np.empty_like(send)
    comm.Alltoall(send, recv)
    if recv[:, 1].any():
        _agree(comm, error)
    order = K.counting_sort(rank_of, P)
    moved = [_alltoallv(comm, a, order, send[:, 0], recv[:, 0]) for a in rows]
    return moved[0], moved[1:]


def _owned(decomp, positions, what):
    """This rank's positions as given and as the kernels take them (far periodic rows wrapped),
    after checking that it owns every one. The half-cell shift of interlacing applies to the
    positions as given, as in serial: a far coordinate rounds differently once wrapped."""
    given = assign._positions(decomp.grid, positions)
    x, rank_of, counts = _homes(decomp, given)
    if counts[-1]:
        raise ValueError(f"{counts[-1]} particle position(s) are NaN or infinite on rank "
                         f"{decomp.rank}; nothing was deposited or read")
    wrong = x.shape[0] - int(counts[decomp.rank])
    if wrong:
        i = int(np.flatnonzero(rank_of != decomp.rank)[0])
        raise ValueError(
            f"{what}: {wrong} of the {x.shape[0]} particles given to rank {decomp.rank} belong to "
            f"other ranks (first: index {i} at {x[i].tolist()}, owned by rank {rank_of[i]}; this "
            f"rank holds planes {decomp.start}:{decomp.stop} of axis 0). Move them first: "
            "positions, arrays = fieldsolve.parallel.migrate(decomp, positions, *arrays)")
    return given, x


def _options(window, outside, dtype=np.float64):
    window = get_window(window)
    if outside not in assign._OUTSIDE:
        raise ValueError(f"outside={outside!r}; allowed: {assign._OUTSIDE}")
    dtype = np.dtype(dtype or np.float64)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype={dtype} not supported; use float32 or float64")
    return window, dtype


def _ghosts(decomp, window, interlace):
    """Ghost planes below and above a slab for ``window``: every stencil of a particle owned
    here, and of its half-cell shifted copy when interlacing, falls inside the extended slab."""
    grid = decomp.grid
    if interlace and not grid.all_periodic:
        raise ValueError("interlace=True needs a periodic grid on every axis")
    g = window.order // 2
    lo, hi = g, g + int(bool(interlace))
    thin = min(decomp.counts) < max(lo, hi)
    # on a periodic axis 0 a cell must have one place in the extended slab (kernels wrap mod n0)
    wide = grid.periodic[0] and max(decomp.counts) + lo + hi > grid.shape[0]
    if thin or wide:
        raise ValueError(f"{window.name} needs {lo} + {hi} ghost planes around slabs of "
                         f"{min(decomp.counts)}-{max(decomp.counts)} planes: too many ranks "
                         f"({decomp.size}) for grid.shape[0] = {grid.shape[0]}")
    return lo, hi


def _paint_slab(decomp, positions, weights, window, interlace, outside, dtype):
    """This rank's paint onto its slab and ghost planes, before any message: (K, C, planes,
    *shape[1:]) with K = 2 interlacing (the plain and the shifted paint: one halo exchange for
    both), the ghost planes below and above, and the output dtype."""
    grid = decomp.grid
    window, dtype = _options(window, outside, dtype)
    lo, hi = _ghosts(decomp, window, interlace)
    given, x = _owned(decomp, positions, "deposit")
    w, wstep = assign._weights(weights, x.shape[0])
    params = assign._params(grid, window)
    off = decomp.start - lo
    out = np.zeros((1 + int(bool(interlace)), w.shape[1], decomp.stop - off + hi) + params[2][1:])
    assign._paint(grid, x, w, wstep, params, outside, off, out[0])
    if interlace:
        shift = np.array(grid.spacing, dtype=x.dtype) / 2
        assign._paint(grid, given + shift, w, wstep, params, outside, off, out[1])
    return out.reshape(out.shape[:3] + grid.shape[1:]), lo, hi, dtype


def deposit(decomp, positions, weights=None, window="cic", *, density=True, interlace=False,
            outside="raise", dtype=None):
    """Deposit this rank's particles; returns this rank's slab of the global deposit.

    Arguments as :func:`fieldsolve.deposit` (collective: every rank calls it). ``positions``
    (N, ndim) and ``weights`` (None, a scalar, (N,) or (N, C)) are the particles this rank owns
    (after :func:`migrate`; any other is refused with a ``ValueError``). Returns
    ``decomp.local_shape`` (``(C, *local_shape)`` for (N, C) weights): this rank's planes of
    what :func:`fieldsolve.deposit` gives for all ranks' particles together, equal to it but
    for the order of the additions (and FFT rounding with ``interlace``). A replicated 1-D
    mesh: the whole mesh, on every rank."""
    grid = decomp.grid
    if not (decomp.split or decomp.replicated):
        return assign.deposit(grid, positions, weights, window, density=density, outside=outside,
                              interlace=interlace, dtype=dtype)
    comm = decomp.comm
    if decomp.replicated:  # every rank paints the whole mesh, then they add up
        out, dtype = _together(comm, lambda: (
            assign.deposit(grid, positions, weights, window, density=density, outside=outside,
                           interlace=interlace), _options(window, outside, dtype)[1]))
        comm.Allreduce(_mpi().IN_PLACE, out, op=_mpi().SUM)
        return out.astype(dtype, copy=False)
    out, lo, hi, dtype = _together(comm, _paint_slab, decomp, positions, weights, window,
                                   interlace, outside, dtype)
    local = halo.reduce(decomp, out, lo, hi) if lo or hi else out
    if interlace:
        X = dfft.rfftn(decomp, local)
        result = dfft.irfftn(decomp, assign._interlace_combine(decomp.block, X[0], X[1]))
    else:
        result = local[0]
    if density:
        result /= grid.cell_volume
    if weights is None or np.ndim(weights) < 2:
        result = result[0]
    return result.astype(dtype, copy=False)


def _read_checks(decomp, local_field, positions, window, interlace, outside):
    """This rank's checks before the readout's messages: the field (C, *local_shape), the
    positions as given and as the kernels take them, the ghost planes."""
    grid = decomp.grid
    window = _options(window, outside)[0]
    lo, hi = _ghosts(decomp, window, interlace)
    f = np.asarray(local_field)
    vector = f.ndim == grid.ndim + 1
    if f.shape[int(vector):] != decomp.local_shape:
        raise ValueError(f"local_field has shape {f.shape}; expected this rank's slab "
                         f"{decomp.local_shape} or (C, *{decomp.local_shape})")
    if f.dtype not in (np.float32, np.float64):
        if np.iscomplexobj(f) or not np.issubdtype(f.dtype, np.number):
            raise ValueError(f"field must be real (float32/float64), got dtype {f.dtype}")
        f = f.astype(np.float64)
    given, x = _owned(decomp, positions, "interpolate")
    return (f if vector else f[None]), given, x, window, lo, hi


def interpolate(decomp, local_field, positions, window="cic", *, interlace=False, outside="raise"):
    """Read this rank's slab of a field at this rank's particles (collective).

    ``local_field``: ``decomp.local_shape`` (returns (N,)) or ``(C, *local_shape)`` (returns
    (N, C)); a replicated 1-D mesh passes the whole field. ``positions``: the particles this
    rank owns (after :func:`migrate`). Bit for bit what :func:`fieldsolve.interpolate` reads
    from the global field at these particles (to FFT rounding with ``interlace``), and the
    exact adjoint of :func:`deposit` with ``density=False``."""
    grid = decomp.grid
    if not (decomp.split or decomp.replicated):
        return assign.interpolate(grid, local_field, positions, window, outside=outside,
                                  interlace=interlace)
    comm = decomp.comm
    if decomp.replicated:  # every rank holds the whole mesh
        return _together(comm, lambda: assign.interpolate(grid, local_field, positions, window,
                                                          outside=outside, interlace=interlace))
    f, given, x, window, lo, hi = _together(comm, _read_checks, decomp, local_field, positions,
                                            window, interlace, outside)
    if interlace:  # the two fields the adjoint of the interlaced paint reads
        first, second = assign._interlace_spectra(decomp.block, dfft.rfftn(decomp, f))
        ext = np.stack([dfft.irfftn(decomp, first), dfft.irfftn(decomp, second)])
        ext = halo.extend(decomp, ext, lo, hi) if lo or hi else ext
    else:  # a field made with room for the ghost planes is extended in place (halo.with_room)
        ext = (halo.extend(decomp, f, lo, hi) if lo or hi else np.ascontiguousarray(f))[None]
    params = assign._params(grid, window)
    ext = ext.reshape(ext.shape[:3] + params[2][1:])
    off = decomp.start - lo

    def read():
        out = assign._read(grid, ext[0], x, params, outside, off)
        if interlace:
            shift = np.array(grid.spacing, dtype=x.dtype) / 2
            out += assign._read(grid, ext[1], given + shift, params, outside, off)
        return out

    out = _together(comm, read)
    return out if np.ndim(local_field) == grid.ndim + 1 else out[:, 0]
