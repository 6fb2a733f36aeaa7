"""Plots of fieldsolve runs, one function per plot.

Each plot function takes a run directory (some also a snapshot ``fs_*.h5`` or ``timeseries.h5``),
writes one PNG and returns its path; ``save=False`` returns the matplotlib Figure instead::

    import fieldsolve.plots as fp
    fp.energy("runs/landau")                      # -> runs/landau/plots/energy.png
    fig = fp.phase_space("runs/landau/diags/fields/fs_000250.h5", save=False)

:func:`make_plots` writes every plot that applies (``fieldsolve plot``); :func:`available`
lists them with one line each (``fieldsolve plot --list``). Values are shown in the run's code
units, and every axis and colour bar names the dimension ("mass/length^3, code units").
Spatial maps have equal aspect; quantities that span decades are on log axes. Matplotlib runs
non-interactively (Agg) and every PNG is written atomically.
"""
from .base import available, make_plots
from .timeseries import energy, momentum, mode_energy
from .fields import density, potential
from .particles import particles, phase_space
from .poisson import poisson_convergence, poisson_error
from .les import les_fields, les_spectra

__all__ = ["make_plots", "available", "energy", "momentum", "mode_energy", "density", "potential",
           "phase_space", "particles", "poisson_error", "poisson_convergence", "les_spectra", "les_fields"]
