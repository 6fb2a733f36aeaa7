"""Deprecated spellings of the public API, accepted with a warning: arguments renamed to the one
word each kernel family is chosen by (``window=`` for assignment windows, ``gradient=`` for
derivative stencils) and the grid-first argument order of every function that takes a grid."""
from __future__ import annotations

import functools
import warnings

__all__ = ["api"]


def api(*, grid_first=False, renamed=None, whole_grid=False):
    """Decorator: ``grid_first`` accepts the old ``f(field, grid, ...)`` order (the grid after
    the fields, positionally or as ``grid=``; a :class:`fieldsolve.parallel.Decomposition` in the
    grid's place is a grid); ``renamed`` maps old keyword names to new ones; ``whole_grid``: the
    function has no distributed form, so a split decomposition is refused with a clear error
    (an unsplit one, serial or a replicated 1-D grid, stands for its grid)."""
    renamed = dict(renamed or {})

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from .grid import Grid
            from .parallel.layout import Decomposition

            name = fn.__qualname__
            if grid_first and args and not isinstance(args[0], (Grid, Decomposition)):
                at = next((i for i, a in enumerate(args) if isinstance(a, Grid)), None)
                if at is not None:
                    args = (args[at],) + args[:at] + args[at + 1:]
                elif isinstance(kwargs.get("grid"), Grid):
                    args = (kwargs.pop("grid"),) + args
                else:
                    args = None
                if args is not None:
                    warnings.warn(f"{name}(field, grid, ...) is now {name}(grid, field, ...)",
                                  DeprecationWarning, stacklevel=2)
                else:
                    raise TypeError(f"{name}: the first argument must be a fieldsolve.Grid")
            if whole_grid and args and isinstance(args[0], Decomposition):
                if args[0].split:
                    raise ValueError(f"{name} works on whole grids only (no distributed form yet): "
                                     "gather the field to one rank (Decomposition.gather) and pass "
                                     "decomposition.grid")
                args = (args[0].grid,) + args[1:]
            for old, new in renamed.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{name}: give {new}= only ({old}= is its older name)")
                    warnings.warn(f"{name}: {old}= is now {new}=", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
