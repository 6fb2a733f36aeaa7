"""fieldsolve: particle-mesh deposit, FFT Poisson solvers and LES filters built on one idea,
the convolution kernel (an array of weights with a Fourier transfer function).

Data flows one way: config -> grid/particles -> deposit -> solve -> interpolate -> integrate
-> write; the imports below follow that order. Library use imports NumPy, SciPy, pyFFTW and
numba only: configs (pydantic, PyYAML), runs and files (h5py) and plots (matplotlib) load
when first used.
"""
import importlib

# grid, transforms, kernels, particle <-> mesh
from . import fft, kernels
from ._threads import get_num_threads, set_num_threads
from .grid import Grid
from .kernels import (WINDOWS, Window, compensate, get_kernel, get_window, kernel_names,
                      window_alias_sum, window_transfer)
from .assign import deposit, interpolate, sort_particles
from .power import power_spectrum

# Poisson: solver, analytic references, PM forces
from . import analytic, pm
from .poisson import PoissonSolver

# LES: filters, SGS stresses, spectra, synthetic turbulence, a-priori pipeline
from . import les
from .filters import Filter, filter_field, filter_kernel, make_filter, transfer_function
from .sgs import (dynamic_smagorinsky, leonard_stress, sgs_dissipation, sgs_energy, sgs_stress,
                  strain_rate)
from .spectra import dealias, energy_spectrum, padded_product
from .turbulence import synthetic_turbulence

__version__ = "0.1.0"

__all__ = [
    "Grid", "fft", "kernels", "set_num_threads", "get_num_threads",
    "Window", "WINDOWS", "get_window", "window_transfer", "window_alias_sum", "compensate",
    "deposit", "interpolate", "sort_particles", "power_spectrum",
    "PoissonSolver", "analytic", "pm", "get_kernel", "kernel_names",
    "les", "Filter", "make_filter", "filter_field", "filter_kernel", "transfer_function",
    "sgs_stress", "strain_rate", "sgs_energy", "sgs_dissipation", "leonard_stress",
    "dynamic_smagorinsky", "energy_spectrum", "dealias", "padded_product", "synthetic_turbulence",
    "run", "RunResult", "load_config", "ConfigError",
]

# loaded on first use: name -> (module, attribute or None for the module itself)
_LAZY = {"run": ("runner", "run"), "RunResult": ("runner", "RunResult"),
         "load_config": ("config", "load_config"), "ConfigError": ("config", "ConfigError"),
         "config": ("config", None), "runner": ("runner", None), "io": ("io", None),
         "plots": ("plots", None)}
# modules renamed into fieldsolve.kernels (old names kept as aliases)
_MOVED = {"green": "kernels", "windows": "kernels.windows"}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(f".{module}", __name__)
        return mod if attr is None else getattr(mod, attr)
    if name in _MOVED:
        import warnings

        warnings.warn(f"fieldsolve.{name} moved to fieldsolve.{_MOVED[name]}", DeprecationWarning,
                      stacklevel=2)
        return importlib.import_module(f".{_MOVED[name]}", __name__)
    raise AttributeError(f"module 'fieldsolve' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
