"""fieldsolve: particle-mesh deposit, FFT Poisson solvers and LES filters built on one idea,
the convolution kernel (an array of weights with a Fourier transfer function)."""
from . import fft
from ._threads import get_num_threads, set_num_threads
from .assign import deposit, interpolate, sort_particles
from .grid import Grid
from .power import power_spectrum
from .windows import WINDOWS, Window, compensate, get_window, window_alias_sum, window_transfer
from . import les
from .filters import Filter, filter_field, filter_kernel, make_filter, transfer_function
from .sgs import (dynamic_smagorinsky, leonard_stress, sgs_dissipation, sgs_energy, sgs_stress,
                  strain_rate)
from .spectra import dealias, energy_spectrum, padded_product
from .turbulence import synthetic_turbulence
from . import analytic, green, pm
from .green import get_kernel, kernel_names
from .poisson import PoissonSolver
from .config import ConfigError, load_config
from .runner import RunResult, run

__version__ = "0.1.0"

__all__ = [
    "Grid", "fft", "set_num_threads", "get_num_threads",
    "Window", "WINDOWS", "get_window", "window_transfer", "window_alias_sum", "compensate",
    "deposit", "interpolate", "sort_particles", "power_spectrum",
    "les", "Filter", "make_filter", "filter_field", "filter_kernel", "transfer_function",
    "sgs_stress", "strain_rate", "sgs_energy", "sgs_dissipation", "leonard_stress",
    "dynamic_smagorinsky", "energy_spectrum", "dealias", "padded_product", "synthetic_turbulence",
    "PoissonSolver", "analytic", "green", "pm", "get_kernel", "kernel_names",
    "run", "RunResult", "load_config", "ConfigError",
]
