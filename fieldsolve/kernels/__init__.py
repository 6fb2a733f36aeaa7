"""Convolution kernels: windows, derivative stencils, Green's functions and LES filters.

Each kernel is a :class:`Kernel` (``transfer(grid)``, ``array(grid)`` with the origin at index
0, ``apply(grid, field)``, ``order``), found by family and name in one registry
(:func:`get`, :func:`names`). See ``docs/kernels.md`` for the table of every kernel.

==============  ==========================================  =============================
family          names                                       module
==============  ==========================================  =============================
``window``      ngp, cic, tsc, pcs                          :mod:`.windows`
``gradient``    spectral, fd2, fd4                          :mod:`.differencing`
``periodic``    spectral, fd2, fd4, mehrstellen4, optimal   :mod:`.periodic`
``free``        zeta, chat2, igf, lgf, hej0, hej2..hej10,   :mod:`.free`, :mod:`.lattice`
                vgf
``filter``      sharp, gaussian, box, trapezoid, simpson,   :mod:`.filters`
                sg3, sg5_box, sg5_gaussian
==============  ==========================================  =============================
"""
from .base import FAMILIES, Kernel, apply_transfer, get, names
from .differencing import GRADIENTS, Gradient, differencing_symbols
from .windows import WINDOWS, Window, compensate, get_window, window_alias_sum, window_transfer
from .green import (LGF3_ORIGIN, ZETA2_HALF, ZETA2_PRIME0, ZETA3, GreenKernel, green_function,
                    long_range_green_function)
from .periodic import (FD2Kernel, FD4Kernel, Mehrstellen4Kernel, OptimalKernel, PeriodicKernel,
                       SpectralKernel)
from .free import (FreeKernel, Hej0Kernel, HejlesenKernel, IGFKernel, PointKernel, VGFKernel,
                   lag_indices, pad_kernel, padded_transfer)
from .lattice import LGFKernel, lgf2, lgf3
from .filters import FilterKernel

__all__ = ["Kernel", "FAMILIES", "get", "names", "apply_transfer", "get_kernel", "kernel_names",
           "Window", "WINDOWS", "get_window", "window_transfer", "window_alias_sum", "compensate",
           "GRADIENTS", "Gradient", "differencing_symbols", "GreenKernel", "green_function",
           "long_range_green_function", "PeriodicKernel", "SpectralKernel", "FD2Kernel",
           "FD4Kernel", "Mehrstellen4Kernel", "OptimalKernel", "FreeKernel", "PointKernel",
           "IGFKernel", "LGFKernel", "HejlesenKernel", "Hej0Kernel", "VGFKernel", "lgf3", "lgf2",
           "lag_indices", "pad_kernel", "padded_transfer", "FilterKernel", "ZETA3", "ZETA2_PRIME0", "ZETA2_HALF",
           "LGF3_ORIGIN"]


def kernel_names(kind=None):
    """Green's-function names: all, or those of ``kind`` ``"periodic"`` / ``"free"``."""
    if kind in ("periodic", "free"):
        return list(names(kind))
    return list(names("periodic")) + list(names("free"))


def get_kernel(name, **options):
    """A Green's function by name (periodic or free-space) with its options."""
    if isinstance(name, Kernel):
        return get("periodic", name, **options)
    if not isinstance(name, str):
        raise ValueError(f"kernel must be a name or a Kernel object, got {type(name).__name__}")
    family = "periodic" if name.lower() in names("periodic") else "free"
    if name.lower() not in names(family):
        raise ValueError(f"unknown kernel {name!r}; periodic kernels: {kernel_names('periodic')}; "
                         f"free-space kernels: {kernel_names('free')}")
    return get(family, name, **options)
