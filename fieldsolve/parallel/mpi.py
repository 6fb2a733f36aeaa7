"""MPI, only when launched under it: the communicator, the threads each rank may use, and ending
every rank when one fails.

fieldsolve imports mpi4py only when a launcher started this process (``mpiexec`` sets
``PMI_SIZE``/``PMI_RANK`` for MPICH and ``OMPI_COMM_WORLD_SIZE`` for Open MPI) or when a
communicator is passed in; serial use never imports it.
"""
from __future__ import annotations

import os
import sys

import numpy as np

__all__ = ["launched", "world", "rank", "size", "threads_per_rank", "abort_on_error", "serial", "allreduce",
           "allsum", "allmax", "on_root", "agreed", "everywhere", "on_every_rank"]

_LAUNCH_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_RANK")


def launched() -> bool:
    """True when an MPI launcher started this process (even with one rank)."""
    return any(v in os.environ for v in _LAUNCH_VARS)


def world():
    """``MPI.COMM_WORLD`` under a launcher, else None (mpi4py is not imported)."""
    if not launched():
        return None
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("this process was started by an MPI launcher but mpi4py is not installed; "
                           "install the extra: pip install 'fieldsolve[mpi]' (see the README)") from exc
    return MPI.COMM_WORLD


def serial(comm) -> bool:
    return comm is None or comm.Get_size() == 1


def rank(comm) -> int:
    return 0 if comm is None else comm.Get_rank()


def size(comm) -> int:
    return 1 if comm is None else comm.Get_size()


def threads_per_rank(comm) -> int:
    """Cores visible to this process divided by the ranks sharing its node (at least 1): under
    MPICH's launcher every rank sees every core, so all-cores-each would oversubscribe."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    if comm is None:
        return max(1, cores)
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        on_node = node.Get_size()
    finally:
        node.Free()
    return max(1, cores // on_node)


def abort_on_error(comm, exc, code=1):
    """End every rank after ``exc`` on this one: print one line (rank 0 prints its own; others
    name their rank) and ``Abort``, so the others never wait in a collective forever."""
    if comm is None or comm.Get_size() == 1:
        return
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"fieldsolve: failed on rank {comm.Get_rank()}: {text}", file=sys.__stderr__, flush=True)
    _wait_forwarded(2)
    try:  # MPICH's own "Abort(1) on node ..." line would be a second one: the line above says it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except OSError:
        pass
    comm.Abort(code)


def _wait_forwarded(fd, timeout=3.0, settle=0.3):
    """Give the launcher time to forward what this rank wrote to ``fd`` before ``Abort``: the
    launcher stops forwarding output once it is told to abort, so a line still in the pipe (or on
    its way to ``mpiexec``) would be lost on a loaded machine. Waits until the pipe is empty
    (Linux ``FIONREAD``), at most ``timeout`` s, then ``settle`` s for the last hop."""
    import time

    deadline = time.monotonic() + timeout
    try:
        import fcntl
        import struct
        import termios

        while time.monotonic() < deadline:
            left = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            if left <= 0:
                break
            time.sleep(0.01)
    except (ImportError, OSError):  # not a pipe (a file, a terminal) or not Linux: nothing queued
        pass
    time.sleep(settle)


def everywhere(exc):
    """Mark ``exc`` as raised on every rank together (no rank waits in a collective for it):
    a run ends with it normally instead of ``Abort``."""
    exc.on_every_rank = True
    return exc


def on_every_rank(exc) -> bool:
    """Whether ``exc`` (or an error it was raised from) was raised on every rank together."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if getattr(exc, "on_every_rank", False):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def allreduce(comm, value, op_name="SUM"):
    """``value`` (a number, or an array reduced elementwise) reduced over the ranks with the MPI
    operation ``op_name`` (``"SUM"``, ``"MAX"``...); ``value`` itself when serial."""
    if comm is None or comm.Get_size() == 1:
        return value
    from mpi4py import MPI

    op = getattr(MPI, op_name)
    if np.isscalar(value) or np.ndim(value) == 0:
        return comm.allreduce(value, op=op)
    value = np.ascontiguousarray(value)
    out = np.empty_like(value)
    comm.Allreduce(value, out, op=op)
    return out


def allmax(comm, value):
    """Maximum of ``value`` over the ranks; ``value`` itself when serial."""
    return allreduce(comm, value, "MAX")


def allsum(comm, value):
    """Sum of ``value`` (a number or array) over the ranks; ``value`` itself when serial."""
    return allreduce(comm, value, "SUM")


def _portable(exc):
    """``exc`` if it survives pickling (to be sent to the other ranks), else a ``RuntimeError``
    with its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure: send the message instead
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def on_root(comm, fn, *args):
    """Run ``fn`` on rank 0 only and hand its result (or its exception, re-raised on every rank)
    to all: a failure on rank 0 must not leave the others waiting in the next collective."""
    if comm is None or comm.Get_size() == 1:
        return fn(*args)
    result, error = None, None
    if comm.Get_rank() == 0:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, on every rank
            error = _portable(exc)
    error = comm.bcast(error, root=0)
    if error is not None:
        raise everywhere(error)
    return comm.bcast(result, root=0)


def agreed(comm, fn, *args):
    """Run ``fn`` on every rank; if it raised on any rank, every rank raises the error of the
    first rank that failed (checks that read files or directories may differ between ranks, and
    a rank that raised alone would leave the others waiting in the next collective)."""
    if comm is None or comm.Get_size() == 1:
        return fn(*args)
    try:
        result, error = fn(*args), None
    except Exception as exc:  # noqa: BLE001 - agreed on below, re-raised on every rank
        result, error = None, exc
    failed = comm.allgather(error is not None)
    if any(failed):
        first = failed.index(True)
        sent = comm.bcast(_portable(error) if comm.Get_rank() == first else None, root=first)
        raise everywhere(error if error is not None and comm.Get_rank() == first else sent)
    return result
