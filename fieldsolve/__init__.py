"""fieldsolve: particle-mesh deposit, FFT Poisson solvers and LES filters built on one idea,
the convolution kernel (an array of weights with a Fourier transfer function)."""
from . import fft
from ._threads import get_num_threads, set_num_threads
from .assign import deposit, interpolate, sort_particles
from .grid import Grid
from .power import power_spectrum
from .windows import WINDOWS, Window, compensate, get_window, window_alias_sum, window_transfer

__version__ = "0.1.0"

__all__ = [
    "Grid", "fft", "set_num_threads", "get_num_threads",
    "Window", "WINDOWS", "get_window", "window_transfer", "window_alias_sum", "compensate",
    "deposit", "interpolate", "sort_particles", "power_spectrum",
]
