"""fieldsolve: particle-mesh deposit, FFT Poisson solvers and LES filters built on one idea,
the convolution kernel (an array of weights with a Fourier transfer function).

Data flows one way: config -> grid/particles -> deposit -> solve -> interpolate -> integrate
-> write; the imports below follow that order.
"""
# grid, transforms, assignment windows, particle <-> mesh
from . import fft
from ._threads import get_num_threads, set_num_threads
from .grid import Grid
from .windows import WINDOWS, Window, compensate, get_window, window_alias_sum, window_transfer
from .assign import deposit, interpolate, sort_particles
from .power import power_spectrum

# Poisson: Green's functions, solver, analytic references, PM force law
from . import analytic, green, pm
from .green import get_kernel, kernel_names
from .poisson import PoissonSolver

# LES: filters, SGS stresses, spectra, synthetic turbulence, a-priori pipeline
from . import les
from .filters import Filter, filter_field, filter_kernel, make_filter, transfer_function
from .sgs import (dynamic_smagorinsky, leonard_stress, sgs_dissipation, sgs_energy, sgs_stress,
                  strain_rate)
from .spectra import dealias, energy_spectrum, padded_product
from .turbulence import synthetic_turbulence

# config-driven runs
from .config import ConfigError, load_config
from .runner import RunResult, run

__version__ = "0.1.0"

__all__ = [
    "Grid", "fft", "set_num_threads", "get_num_threads",
    "Window", "WINDOWS", "get_window", "window_transfer", "window_alias_sum", "compensate",
    "deposit", "interpolate", "sort_particles", "power_spectrum",
    "PoissonSolver", "analytic", "green", "pm", "get_kernel", "kernel_names",
    "les", "Filter", "make_filter", "filter_field", "filter_kernel", "transfer_function",
    "sgs_stress", "strain_rate", "sgs_energy", "sgs_dissipation", "leonard_stress",
    "dynamic_smagorinsky", "energy_spectrum", "dealias", "padded_product", "synthetic_turbulence",
    "run", "RunResult", "load_config", "ConfigError",
]
