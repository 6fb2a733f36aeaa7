"""fieldsolve: particle-mesh deposit, FFT Poisson solvers and LES filters built on one idea,
the convolution kernel (an array of weights with a Fourier transfer function).

Data flows one way: config -> grid/particles -> deposit -> solve -> interpolate -> integrate
-> write; the names below follow that order. Every name loads on first use (PEP 562): the
library imports NumPy, SciPy, pyFFTW and numba when a numerical name is used; configs
(pydantic, PyYAML), runs and files (h5py) and plots (matplotlib) when those are. ``import
fieldsolve`` itself is instant, so the command line answers Ctrl-C during its start-up with one
line instead of a traceback from inside an import.
"""
import importlib

# first, before numba and pyFFTW start their threads (see _threads)
from ._threads import get_num_threads, set_num_threads

from ._version import __version__  # noqa: F401


def _names(module, *names):
    return {n: (module, n) for n in names}


# name -> (module, attribute or None for the module itself)
_LAZY = {
    # grid, transforms, kernels, particle <-> mesh
    "fft": ("fft", None), "kernels": ("kernels", None), **_names("grid", "Grid"),
    **_names("kernels", "WINDOWS", "Window", "compensate", "get_kernel", "get_window", "kernel_names",
             "window_alias_sum", "window_transfer"),
    **_names("assign", "deposit", "interpolate", "sort_particles"), **_names("power", "power_spectrum"),
    # Poisson: solver, analytic references, PM forces
    "analytic": ("analytic", None), "pm": ("pm", None), **_names("poisson", "PoissonSolver"),
    # LES: filters, SGS stresses, spectra, synthetic turbulence, a-priori pipeline
    "les": ("les", None),
    **_names("filters", "Filter", "filter_field", "filter_kernel", "make_filter", "transfer_function"),
    **_names("sgs", "dynamic_smagorinsky", "leonard_stress", "sgs_dissipation", "sgs_energy", "sgs_stress",
             "strain_rate"),
    **_names("spectra", "dealias", "energy_spectrum", "padded_product"),
    **_names("turbulence", "synthetic_turbulence"),
    # config-driven runs, files, plots
    **_names("runs", "run", "RunResult"), **_names("config", "load_config", "ConfigError"),
    "config": ("config", None), "runs": ("runs", None), "files": ("files", None),
    "openpmd": ("openpmd", None), "plots": ("plots", None),
}
# modules renamed into fieldsolve.kernels (old names kept as aliases)
_MOVED = {"green": "kernels", "windows": "kernels.windows", "runner": "runs"}

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


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(f".{module}", __name__)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    if name in _MOVED:
        import warnings

        warnings.warn(f"fieldsolve.{name} moved to fieldsolve.{_MOVED[name]}", DeprecationWarning,
                      stacklevel=2)
        return importlib.import_module(f".{_MOVED[name]}", __name__)
    if not name.startswith("_"):  # any other submodule, as an eager import of the package gave
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'fieldsolve' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
