import os
import tempfile

import numpy as np
import pytest


def pytest_configure(config):
    # keep the suite hermetic: measured FFT plans go to a private wisdom file, not ~/.cache
    os.environ["FIELDSOLVE_FFTW_WISDOM"] = os.path.join(tempfile.mkdtemp(prefix="fs-wisdom-"),
                                                        "fftw-wisdom")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
