"""The error every config problem raises, and how options are spelled in messages."""
from __future__ import annotations

import contextvars

__all__ = ["ConfigError", "option", "COMMAND_LINE"]


class ConfigError(ValueError):
    """An invalid configuration or input; the message is one line naming key, value and rule."""


# how an option is spelled in messages: the command line sets this (see fieldsolve.cli)
COMMAND_LINE = contextvars.ContextVar("fieldsolve_command_line", default=False)
_SPELLING = {  # name: (command line, with a value; Python, with a value)
    "overwrite": ("--overwrite", "--overwrite", "overwrite=True", "overwrite=True"),
    "resume": ("--resume DIR", "--resume {}", "resume=True", "resume=True, out={!r}"),
    "force": ("--force", "--force", "force=True", "force=True"),
    "out": ("--out", "--out {}", "out", "out={!r}"),
}


def option(name, value=None) -> str:
    """An option as the user wrote it: ``--overwrite`` on the command line, ``overwrite=True``
    from Python; with a value, e.g. ``--out runs/x`` or ``out='runs/x'``."""
    cli, cli_value, py, py_value = _SPELLING[name]
    if value is None:
        return cli if COMMAND_LINE.get() else py
    return (cli_value if COMMAND_LINE.get() else py_value).format(str(value))
