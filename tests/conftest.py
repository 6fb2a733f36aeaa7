import os
import tempfile

import numpy as np
import pytest

from fieldsolve.parallel import mpi as _mpi

# tests/mpi runs under mpiexec (make test-mpi); a serial run must not import its conftest, which
# would shadow this one as the module `conftest` (tests import EXAMPLE_OVERRIDES from it)
if not _mpi.launched():
    collect_ignore = ["mpi"]


def pytest_configure(config):
    # keep the suite hermetic: measured FFT plans go to a private wisdom file, not ~/.cache
    os.environ["FIELDSOLVE_FFTW_WISDOM"] = os.path.join(tempfile.mkdtemp(prefix="fs-wisdom-"),
                                                        "fftw-wisdom")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# every example config, shrunk with --set overrides so that all seven run in a few seconds;
# the output layout (records, species, iteration numbering) is that of the full runs
CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
EXAMPLE_OVERRIDES = {
    "default": ["initial.n_particles=2000", "grid.shape=[16,16,16]", "time.t_end=0.2", "output.every=2",
                "checkpoint.every=null"],
    "plummer": ["initial.n_particles=2000", "grid.shape=[16,16,16]", "time.t_end=0.2", "output.every=2",
                "checkpoint.every=null"],
    "landau_damping": ["species.0.n_particles=6000", "time.t_end=0.5", "output.every=5"],
    "two_stream": ["species.0.n_particles=3000", "species.1.n_particles=3000", "time.t_end=0.2",
                   "output.every=2"],
    "zeldovich": ["time.t_end=0.02", "output.every=2"],
    "poisson_gaussian": ["grid.shape=[16,16,16]"],
    "les_apriori": ["grid.shape=[16,16,16]"],
}


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory):
    """``{config name: RunResult}`` of every example config (small), without plots."""
    from fieldsolve.runs import run

    base = tmp_path_factory.mktemp("examples")
    return {name: run(os.path.join(CONFIGS, f"{name}.yaml"), out=base / name, echo=False,
                      overrides=["output.plots=false", "threads=1"] + over)
            for name, over in EXAMPLE_OVERRIDES.items()}
