"""From plain data to a validated run model: one-line error messages naming key, value and what
is allowed; loading from files, text, dicts; the resolved YAML and its hash."""
from __future__ import annotations

import hashlib
import json
import re
import typing
from pathlib import Path
from typing import Annotated, Union

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError
from .runs import RUN_KINDS, _adapter, _config_type
from .yamlload import _path_str, apply_overrides, load_yaml, read_config_text

__all__ = ["parse_config", "load_config", "dump_config", "config_hash", "names_a_file"]

# --------------------------------------------------------------------------------------------
# error formatting
# --------------------------------------------------------------------------------------------
def _unwrap(tp):
    """Strip Optional/Annotated; return (base type, discriminated members or None)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models and len(models) == len(args) and len(models) > 1:
                return None, models
            if len(args) == 1:
                tp = args[0]
                continue
            # scalar-or-list unions: prefer a model, then a list
            lists = [a for a in args if typing.get_origin(a) is list]
            tp = models[0] if models else (lists[0] if lists else args[0])
            continue
        return tp, None


def _tag(model):
    f = model.model_fields.get("kind")
    return typing.get_args(f.annotation)[0] if f is not None else None


def _walk(loc):
    """Follow a pydantic loc through the config models; return (clean path, model at the end)."""
    tp = _config_type()
    clean = []
    model = None
    i = 0
    while True:
        base, members = _unwrap(tp)
        if members is not None:
            if i < len(loc) and any(_tag(m) == loc[i] for m in members):
                model = next(m for m in members if _tag(m) == loc[i])
                tp = model
                i += 1
                continue
            return clean + list(loc[i:]), None
        if i >= len(loc):
            return clean, base if isinstance(base, type) and issubclass(base, BaseModel) else None
        part = loc[i]
        if isinstance(base, type) and issubclass(base, BaseModel):
            model = base
            if part in base.model_fields:
                tp = base.model_fields[part].annotation
                clean.append(part)
                i += 1
                continue
            return clean + list(loc[i:]), base
        if typing.get_origin(base) is list and isinstance(part, int):
            tp = typing.get_args(base)[0]
            clean.append(part)
            i += 1
            continue
        return clean + list(loc[i:]), None


def _lookup(data, path):
    node = data
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _short(v, n=60):
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _format_error(err, data) -> str:
    loc = tuple(err["loc"])
    etype = err["type"]
    if etype in ("union_tag_invalid", "union_tag_not_found"):
        path, _ = _walk(loc)
        ctx = err.get("ctx") or {}
        key = _path_str(path + ["kind"])
        if etype == "union_tag_not_found":
            return f"{key}: missing; allowed: {ctx.get('expected_tags', '')}".rstrip() if ctx.get(
                "expected_tags") else f"{key}: missing (the run/initial/source type must be given)"
        return f"{key} = {ctx.get('tag')!r} is unknown; allowed: {ctx.get('expected_tags')}"
    path, model = _walk(loc)
    key = _path_str(path)
    if etype == "extra_forbidden":
        parent, pmodel = _walk(loc[:-1])
        allowed = ", ".join(pmodel.model_fields) if pmodel is not None else "see `fieldsolve schema`"
        return f"{key}: unknown key {str(loc[-1])!r} (= {_short(err.get('input'))}); allowed keys here: {allowed}"
    if etype == "missing":
        return f"{key}: required key is missing"
    value = err.get("input")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if etype == "value_error" and isinstance(value, dict):
        if path and msg.startswith(key + "."):
            return msg
        m = re.match(r"^(\w+) = ", msg)
        if m and model is not None and m.group(1) in model.model_fields:
            return f"{key}.{msg}" if path else msg
        return f"{key}: {msg}" if path else msg
    if path and path[-1] == 0 and not isinstance(_lookup(data, path[:-1]), list):
        key = _path_str(path[:-1])  # a scalar given where a per-axis list is accepted
    return f"{key} = {_short(value)}: {msg}"


def _validate(data: dict):
    if not isinstance(data, dict):
        raise ConfigError(f"<top level>: the config must be a mapping of keys, got {_short(data)}")
    if "kind" not in data:
        raise ConfigError(f"kind: required key is missing; allowed: {', '.join(RUN_KINDS)}")
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        errors = exc.errors()
        msgs = [_format_error(e, data) for e in errors]
        more = f" (and {len(msgs) - 1} more: {'; '.join(msgs[1:3])})" if len(msgs) > 1 else ""
        raise ConfigError(msgs[0] + more) from None


def parse_config(data, overrides=()):
    """Validate a plain dict (after ``--set`` overrides) into a config model."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return _validate(apply_overrides(data, overrides))


def names_a_file(source) -> bool:
    """A ``Path`` always names a file; a string does when it is one line and ends in
    .yaml/.yml/.json or exists (otherwise it is YAML text)."""
    if isinstance(source, Path):
        return True
    if "\n" in source or "\x00" in source:
        return False
    try:
        path = Path(source)
        return path.suffix in (".yaml", ".yml", ".json") or path.exists()
    except (OSError, ValueError):  # e.g. a one-line YAML text longer than a file name may be
        return False


def load_config(source, overrides=()):
    """Load a config from a YAML path (a ``Path``, or a string naming a file), YAML text, a dict
    or a model; apply overrides; validate. Files are read with :func:`read_config_text`."""
    if isinstance(source, BaseModel) and not overrides:
        return source
    if isinstance(source, (dict, BaseModel)):
        return parse_config(source, overrides)
    if names_a_file(source):
        data = load_yaml(read_config_text(source), source=str(source))
    else:
        data = load_yaml(str(source))
    return parse_config(data, overrides)


def dump_config(cfg) -> str:
    """Resolved config (defaults included) as YAML text."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, default_flow_style=None)


def config_hash(cfg) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
