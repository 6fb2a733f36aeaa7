"""fieldsolve: particle-mesh deposit, FFT Poisson solvers and LES filters built on one idea,
the convolution kernel (an array of weights with a Fourier transfer function).

Data flows one way: config -> grid/particles -> deposit -> solve -> interpolate -> integrate
-> write; the names below follow that order. They are imported on first use (PEP 562), so
``import fieldsolve`` is instant and the command line can answer Ctrl-C during its start-up
with one line instead of a traceback from inside numba or SciPy.
"""
# first, before numba and pyFFTW start their threads (see _threads)
from ._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

_EXPORTS = {
    # grid, transforms, assignment windows, particle <-> mesh
    "fft": "fft", "Grid": "grid",
    "WINDOWS": "windows", "Window": "windows", "compensate": "windows", "get_window": "windows",
    "window_alias_sum": "windows", "window_transfer": "windows",
    "deposit": "assign", "interpolate": "assign", "sort_particles": "assign",
    "power_spectrum": "power",
    # Poisson: Green's functions, solver, analytic references, PM force law
    "analytic": "analytic", "green": "green", "pm": "pm",
    "get_kernel": "green", "kernel_names": "green", "PoissonSolver": "poisson",
    # LES: filters, SGS stresses, spectra, synthetic turbulence, a-priori pipeline
    "les": "les",
    "Filter": "filters", "filter_field": "filters", "filter_kernel": "filters", "make_filter": "filters",
    "transfer_function": "filters",
    "dynamic_smagorinsky": "sgs", "leonard_stress": "sgs", "sgs_dissipation": "sgs", "sgs_energy": "sgs",
    "sgs_stress": "sgs", "strain_rate": "sgs",
    "dealias": "spectra", "energy_spectrum": "spectra", "padded_product": "spectra",
    "synthetic_turbulence": "turbulence",
    # config-driven runs
    "ConfigError": "config", "load_config": "config", "RunResult": "runner", "run": "runner",
}

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


def __getattr__(name):
    import importlib

    module = _EXPORTS.get(name)
    if module is None:
        if name.startswith("_"):
            raise AttributeError(f"module 'fieldsolve' has no attribute {name!r}")
        try:  # any submodule, as after an eager import of the whole package
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'fieldsolve' has no attribute {name!r}") from None
    mod = importlib.import_module(f"{__name__}.{module}")
    value = mod if module == name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
