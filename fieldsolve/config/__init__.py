"""Run configurations: YAML -> plain dict -> ``--set`` overrides -> pydantic v2 models.

The models below are the single source of truth for what a run accepts. They forbid unknown
keys (``extra="forbid"``) and use discriminated unions on ``kind`` (run type, initial
conditions, sources). :func:`load_config` reads YAML with a strict loader:

* YAML 1.2 scalars: ``1e-3`` is a float, only ``true``/``false`` are booleans (``no``, ``on``
  stay strings and are then rejected by boolean fields), integers with a leading zero
  (``017``, octal in YAML 1.1) are rejected as ambiguous, and duplicate keys are errors.
* bounded: a config file is at most 1 MiB of UTF-8 text, nested at most 64 levels, with at
  most 20000 keys and values after aliases and merge keys are expanded (each ``*alias`` counts
  its full size), so a hostile file (an alias bomb) is refused in milliseconds; tags other than
  the plain scalar ones (``!!python/...``, ``!!set``, ``!custom``) are refused by name;
* every error is a :class:`ConfigError` whose message names the key path, the bad value and
  what is allowed (the CLI prints it on one line and exits with status 2).

Modules: :mod:`.errors`, :mod:`.yamlload` (bounded YAML), :mod:`.sections` (shared sections and
field types), :mod:`.runs` (one model per run type), :mod:`.validate` (messages, loading),
:mod:`.schema` (JSON schema, reference).
"""
from .errors import COMMAND_LINE, ConfigError, option
from .yamlload import (MAX_CONFIG_BYTES, MAX_DEPTH, MAX_VALUES, apply_overrides, decode_config_bytes,
                       load_yaml, parse_scalar, read_config_text)
from .sections import *  # noqa: F401,F403
from .runs import (LESConfig, NBodyConfig, PICConfig, PoissonConfig, RUN_KINDS, RUN_MODELS)
from .validate import config_hash, dump_config, load_config, names_a_file, parse_config
from .schema import config_reference_markdown, config_schema

__all__ = ["ConfigError", "option", "COMMAND_LINE", "load_config", "parse_config", "load_yaml",
           "read_config_text", "decode_config_bytes", "parse_scalar", "apply_overrides",
           "names_a_file", "config_schema", "config_reference_markdown", "dump_config", "config_hash",
           "NBodyConfig", "PICConfig", "PoissonConfig", "LESConfig", "RUN_KINDS", "RUN_MODELS",
           "MAX_CONFIG_BYTES", "MAX_DEPTH", "MAX_VALUES"]
