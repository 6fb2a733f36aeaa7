"""Ghost planes along the split axis 0: filled from the neighbouring slabs (before a stencil
reads across a slab boundary) or added into them (after a deposit painted across it).

An extended slab holds ``lo`` ghost planes below this rank's planes and ``hi`` above:
``ext[lo:lo + n_local]`` is the rank's own slab. On a periodic axis 0 the first and last ranks
are neighbours; on a bounded one the ghost planes beyond the grid stay zero (fill) or must be
empty (reduce: a deposit there is an error the kernels already raised). Every rank's slab must
hold at least as many planes as the widest ghost layer (``Decomposition`` checks it).

A slab made by :func:`with_room` lies inside its extended array already: :func:`extend` then
fills the ghost planes in place and hands back that array, without copying the slab (the
field a :class:`~fieldsolve.pm.ParticleMesh` solve gives its readout)."""
from __future__ import annotations

import weakref

import numpy as np

__all__ = ["extend", "reduce", "with_room", "room"]

_ROOM: dict = {}  # id(slab) -> (weak reference to the slab, its extended array, lo, hi)


def _neighbours(decomp):
    r, p = decomp.rank, decomp.size
    periodic = decomp.grid.periodic[0]
    below = (r - 1) % p if (r > 0 or periodic) else None
    above = (r + 1) % p if (r < p - 1 or periodic) else None
    return below, above


def _check(decomp, lo, hi):
    if decomp.split and min(decomp.counts) < max(lo, hi):
        raise ValueError(f"a slab of {min(decomp.counts)} planes is thinner than the {max(lo, hi)} ghost "
                         f"planes the stencil needs; use fewer ranks for grid.shape[0] = "
                         f"{decomp.grid.shape[0]}")


def _exchange(decomp, send_below, send_above, recv_from_below, recv_from_above):
    """Send two plane blocks to the neighbours, receive theirs (Sendrecv pairs: no deadlock)."""
    comm = decomp.comm
    below, above = _neighbours(decomp)
    # upwards: my top block goes to `above`, I receive `below`'s top block
    if above is not None or below is not None:
        comm.Sendrecv(np.ascontiguousarray(send_above) if above is not None else np.empty(0),
                      dest=above if above is not None else _null(), sendtag=11,
                      recvbuf=recv_from_below if below is not None else np.empty(0),
                      source=below if below is not None else _null(), recvtag=11)
        comm.Sendrecv(np.ascontiguousarray(send_below) if below is not None else np.empty(0),
                      dest=below if below is not None else _null(), sendtag=12,
                      recvbuf=recv_from_above if above is not None else np.empty(0),
                      source=above if above is not None else _null(), recvtag=12)


def _null():
    from mpi4py import MPI

    return MPI.PROC_NULL


def with_room(decomp, lead, lo, hi, dtype, empty=np.empty):
    """An uninitialised slab ``lead + decomp.local_shape`` of ``dtype`` (from ``empty``, a
    function like ``np.empty``) lying inside an array with ``lo``/``hi`` more planes of axis 0:
    :func:`extend` with these widths fills them in place. Unsplit: a plain array."""
    if not (decomp.split and (lo or hi)):
        return empty(tuple(lead) + decomp.local_shape, dtype)
    n = decomp.local_shape[0]
    ext = empty(tuple(lead) + (n + lo + hi,) + decomp.local_shape[1:], dtype)
    slab = ext[(slice(None),) * len(lead) + (slice(lo, lo + n),)]
    key = id(slab)
    _ROOM[key] = (weakref.ref(slab), ext, lo, hi)
    weakref.finalize(slab, _ROOM.pop, key, None)
    return slab


def room(local):
    """``(ext, lo, hi)`` of a slab made by :func:`with_room` (its extended array and ghost
    widths), else None."""
    found = _ROOM.get(id(local))
    return found[1:] if found is not None and found[0]() is local else None


def extend(decomp, local, lo, hi):
    """``local`` (slab, leading component axes allowed) with ``lo``/``hi`` ghost planes filled
    from the neighbours (periodic wrap; zero beyond a bounded axis). A slab from
    :func:`with_room` with the same widths: its own extended array, ghost planes filled."""
    local = np.asarray(local)
    lead = local.ndim - decomp.grid.ndim
    ax = lead
    n = local.shape[ax]
    sl = [slice(None)] * local.ndim

    def at(a, b):
        sl[ax] = slice(a, b)
        return tuple(sl)

    found = room(local) if decomp.split else None
    ext = found[0] if found is not None and found[1:] == (lo, hi) else None  # the slab in place
    if ext is None:
        shape = list(local.shape)
        shape[ax] = n + lo + hi
        ext = np.zeros(shape, local.dtype)
        ext[at(lo, lo + n)] = local
    if not decomp.split:
        if decomp.grid.periodic[0]:  # one rank: the ghosts are its own far planes
            if lo:
                ext[at(0, lo)] = local[at(n - lo, n)]
            if hi:
                ext[at(lo + n, lo + n + hi)] = local[at(0, hi)]
        return ext
    _check(decomp, lo, hi)
    recv_lo = np.zeros(ext[at(0, lo)].shape, local.dtype)
    recv_hi = np.zeros(ext[at(lo + n, lo + n + hi)].shape, local.dtype)
    # my top `lo` planes fill the lower ghosts of the rank above; my bottom `hi` planes the
    # upper ghosts of the rank below (ghost widths are the same on every rank)
    _exchange(decomp, send_below=local[at(0, hi)], send_above=local[at(n - lo, n)],
              recv_from_below=recv_lo, recv_from_above=recv_hi)
    ext[at(0, lo)] = recv_lo
    ext[at(lo + n, lo + n + hi)] = recv_hi
    return ext


def reduce(decomp, ext, lo, hi):
    """The slab of an extended array whose ghost planes were painted into: the ghosts added to
    the neighbours' planes they belong to (periodic wrap; beyond a bounded axis: dropped)."""
    ext = np.asarray(ext)
    lead = ext.ndim - decomp.grid.ndim
    ax = lead
    n = ext.shape[ax] - lo - hi
    sl = [slice(None)] * ext.ndim

    def at(a, b):
        sl[ax] = slice(a, b)
        return tuple(sl)

    local = np.array(ext[at(lo, lo + n)])
    if not decomp.split:
        if decomp.grid.periodic[0]:
            if lo:
                local[at(n - lo, n)] += ext[at(0, lo)]
            if hi:
                local[at(0, hi)] += ext[at(lo + n, lo + n + hi)]
        return local
    _check(decomp, lo, hi)
    recv_from_below = np.zeros(local[at(0, hi)].shape, ext.dtype)   # their upper ghosts: my bottom planes
    recv_from_above = np.zeros(local[at(n - lo, n)].shape, ext.dtype)  # their lower ghosts: my top planes
    _exchange(decomp, send_below=ext[at(0, lo)], send_above=ext[at(lo + n, lo + n + hi)],
              recv_from_below=recv_from_below, recv_from_above=recv_from_above)
    below, above = _neighbours(decomp)
    if below is not None and hi:
        local[at(0, hi)] += recv_from_below
    if above is not None and lo:
        local[at(n - lo, n)] += recv_from_above
    return local
