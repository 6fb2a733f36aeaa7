"""Tests of the distributed code, run by ``make test`` under ``mpiexec -n 1, 2, 3`` once ``make mpi``
installed MPI; the serial suite leaves this folder alone.

Every test compares the distributed result with the serial one computed on every rank from the
same global data. Assertions are made on values reduced over all ranks (``allmax``), so every
rank fails together and none waits in a collective for a rank that stopped.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from fieldsolve.parallel import mpi

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/: shared helpers (h5diff)

if not mpi.launched():
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def comm():
    return mpi.world()


def allmax(comm, value):
    """The maximum of ``value`` over the ranks."""
    from mpi4py import MPI

    return comm.allreduce(float(np.max(value)), op=MPI.MAX)


def pytest_configure(config):
    if mpi.launched():
        from mpi4py import MPI

        if MPI.COMM_WORLD.Get_rank() > 0:  # one report: rank 0's (the others fail with it)
            import os

            sys.stdout.flush()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)


def pytest_runtest_logreport(report):
    if report.failed and mpi.launched():
        from mpi4py import MPI

        if MPI.COMM_WORLD.Get_rank() > 0:
            print(f"rank {MPI.COMM_WORLD.Get_rank()}: {report.nodeid} failed", file=sys.stderr)
