"""Bounded, strict YAML loading for configs (see :mod:`fieldsolve.config`): values built from the
parser's events without recursion, with caps on size, nesting and alias expansion."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["load_yaml", "read_config_text", "decode_config_bytes", "parse_scalar", "apply_overrides",
           "MAX_CONFIG_BYTES", "MAX_DEPTH", "MAX_VALUES"]

# --------------------------------------------------------------------------------------------
# strict, bounded YAML loading
# --------------------------------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20   # a config file is small; anything larger is the wrong file
MAX_DEPTH = 64               # nesting levels of mappings and lists
MAX_VALUES = 20_000          # keys and values after alias/merge expansion (each *a counts in full)

_YAML = "tag:yaml.org,2002:"
_LEADING_ZERO = "tag:fieldsolve,leadingzero"
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str")} | {_LEADING_ZERO}


class _LeadingZero(str):
    """Marker for an integer literal with a leading zero (``017``)."""


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml's parser when available) with YAML 1.2 core-schema scalars: no
    timestamps, no ``=`` value key, booleans only true/false, no YAML 1.1 octal."""


_DROPPED = {_YAML + t for t in ("bool", "int", "float", "timestamp", "value")}
_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in lst if tag not in _DROPPED]
    for ch, lst in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_YAML + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_StrictLoader.add_implicit_resolver(_YAML + "int",
                                    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
                                    list("-+0123456789"))
_StrictLoader.add_implicit_resolver(_LEADING_ZERO, re.compile(r"^[-+]?0[0-9_]+$"), list("-+0"))
_StrictLoader.add_implicit_resolver(
    _YAML + "float",
    re.compile(r"""^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
               |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+.0123456789"))


def _construct_int(loader, node):
    text = loader.construct_scalar(node).replace("_", "")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


_StrictLoader.add_constructor(_YAML + "int", _construct_int)
_StrictLoader.add_constructor(_LEADING_ZERO, lambda loader, node: _LeadingZero(loader.construct_scalar(node)))


def _path_str(path) -> str:
    return ".".join(str(p) for p in path) if path else "<top level>"


def _octal_hint(text):
    try:
        return f"= {int(text.replace('_', ''), 8)}"
    except ValueError:
        return "invalid octal"


def _short_tag(tag):
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


class _Frame:
    """An open mapping or list while the event stream is read."""
    __slots__ = ("value", "anchor", "start", "key", "keys", "merges")

    def __init__(self, value, anchor, start):
        self.value, self.anchor, self.start = value, anchor, start
        self.key = None      # mapping: the key waiting for its value (or _MERGE)
        self.keys = set()    # mapping: keys given explicitly
        self.merges = []     # mapping: mappings from `<<` keys, in order


_MERGE = object()


class _Builder:
    """Python values straight from the YAML event stream, without building a node graph.

    Iterative (no recursion, so deep nesting cannot overflow a stack) and bounded: nesting
    deeper than :data:`MAX_DEPTH` or more than :data:`MAX_VALUES` values, counting every use of
    an alias (``*a``) or merge key (``<<: *a``) at its full expanded size, is refused as soon
    as it is seen. Aliases share the anchored Python object instead of copying it, so the
    time and memory spent are bounded by the text and the cap.
    """

    def __init__(self, loader, source):
        self.loader, self.source = loader, source
        self.stack = []
        self.anchors = {}     # name -> (value, expanded size); None while the anchor is open
        self.count = 0
        self.root = None

    def fail(self, event, what, key=None):
        path = self.path() + ([key] if key is not None else [])
        if len(path) > 8:
            path = path[:3] + ["..."] + path[-3:]
        where = f"line {event.start_mark.line + 1}" if event is not None else "end of input"
        raise ConfigError(f"{self.source}: {_path_str(path)} ({where}): {what}")

    def path(self):
        out = []
        for f in self.stack:
            if not isinstance(f.value, dict):
                out.append(len(f.value))
            elif f.key is not None:
                out.append("<<" if f.key is _MERGE else f.key)
        return out

    def grow(self, event, n):
        self.count += n
        if self.count > MAX_VALUES:
            self.fail(event, f"more than {MAX_VALUES} keys and values after expanding aliases and "
                      "merge keys; a config is far smaller (an alias bomb?)")

    def run(self):
        get = self.loader.get_event
        event = get()  # StreamStart
        event = get()
        if isinstance(event, yaml.StreamEndEvent):
            return {}
        event = get()  # first event after DocumentStart
        while True:
            self.event(event)
            if not self.stack and self.root is not None:
                break
            event = get()
        get()  # DocumentEnd
        event = get()
        if not isinstance(event, yaml.StreamEndEvent):
            raise ConfigError(f"{self.source}: line {event.start_mark.line + 1}: a second YAML "
                              "document ('---'); a config is one document")
        return self.root[0]

    def event(self, ev):
        top = self.stack[-1] if self.stack else None
        if (top is not None and isinstance(top.value, dict) and top.key is None
                and not isinstance(ev, yaml.MappingEndEvent)):
            return self.mapping_key(top, ev)
        if isinstance(ev, yaml.ScalarEvent):
            self.grow(ev, 1)
            value = self.scalar(ev)
            if ev.anchor is not None:
                self.anchors[ev.anchor] = (value, 1)
            return self.done(value, 1, ev)
        if isinstance(ev, yaml.AliasEvent):
            entry = self.anchors.get(ev.anchor, False)
            if entry is False:
                self.fail(ev, f"alias *{ev.anchor} refers to no anchor &{ev.anchor} defined before it")
            if entry is None:
                self.fail(ev, f"alias *{ev.anchor} refers to a collection that contains it (recursive)")
            self.grow(ev, entry[1])
            return self.done(entry[0], entry[1], ev)
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            mapping = isinstance(ev, yaml.MappingStartEvent)
            self.check_tag(ev, _YAML + ("map" if mapping else "seq"))
            if len(self.stack) >= MAX_DEPTH:
                self.fail(ev, f"nested more than {MAX_DEPTH} levels deep; configs need a few levels")
            self.grow(ev, 1)
            self.stack.append(_Frame({} if mapping else [], ev.anchor, self.count - 1))
            if ev.anchor is not None:
                self.anchors[ev.anchor] = None
            return None
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            f = self.stack.pop()
            value = f.value
            if f.merges:  # keys given explicitly win, then the earlier merged mapping
                merged = {}
                for m in reversed(f.merges):
                    merged.update(m)
                merged.update(value)
                value = merged
            size = self.count - f.start
            if f.anchor is not None:
                self.anchors[f.anchor] = (value, size)
            return self.done(value, size, ev)
        self.fail(ev, f"unexpected YAML event {type(ev).__name__}")

    def mapping_key(self, top, ev):
        if not isinstance(ev, yaml.ScalarEvent):
            self.fail(ev, "a key must be a plain string, not a list, mapping or alias")
        self.grow(ev, 1)
        tag = self.tag(ev)
        if tag == _YAML + "merge":
            top.key = _MERGE
            return None
        key = self.scalar(ev, tag)
        if not isinstance(key, str):
            self.fail(ev, f"key {key!r} must be a string", key)
        if key in top.keys:
            self.fail(ev, f"duplicate key {key!r}; each key may appear once", key)
        top.keys.add(key)
        top.key = key
        return None

    def done(self, value, size, ev):
        if not self.stack:
            self.root = (value,)
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _MERGE:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in items):
                self.fail(ev, "a merge key '<<' takes a mapping or a list of mappings")
            top.merges.extend(items)
            top.key = None
        else:
            top.value[top.key] = value
            top.key = None

    def tag(self, ev):
        if ev.tag is None or ev.tag == "!":
            return self.loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
        return ev.tag

    def check_tag(self, ev, default):
        tag = ev.tag
        if tag is None or tag == "!" or tag == default:
            return
        if tag.startswith(_YAML + "python/"):
            self.fail(ev, f"tag {_short_tag(tag)} is refused: Python object tags are never "
                      "constructed; a config holds mappings, lists and plain scalars")
        self.fail(ev, f"tag {_short_tag(tag)} is not allowed here; allowed: plain mappings, lists and "
                  "scalars (optionally tagged !!str, !!int, !!float, !!bool, !!null)")

    def scalar(self, ev, tag=None):
        tag = tag or self.tag(ev)
        if tag not in _SCALAR_TAGS:
            self.check_tag(ev, None)
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
        try:
            value = self.loader.yaml_constructors[tag](self.loader, node)
        except (ValueError, yaml.YAMLError):
            self.fail(ev, f"{ev.value!r} is not a valid {_short_tag(tag)}")
        if isinstance(value, _LeadingZero):
            self.fail(ev, f"{str(value)!r} has a leading zero, which YAML 1.1 reads as octal "
                      f"({_octal_hint(value)}); write it without the leading zero, or as 0o17 if "
                      "octal is meant")
        return value


def decode_config_bytes(data: bytes, source: str) -> str:
    """Config file bytes as text: bounded in size, UTF-8 (a BOM is allowed), no binary data."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES >> 20} MiB; a config is a small "
                          "YAML file (is this the right file?)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ConfigError(f"{source}: binary data (a NUL byte at offset {nul}), not a YAML text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                          "save the config as UTF-8") from None


def read_config_text(path) -> str:
    """The text of a config file, refused with a one-line :class:`ConfigError` if it is a
    directory, unreadable, over :data:`MAX_CONFIG_BYTES`, binary or not UTF-8."""
    path = Path(path)
    if path.is_dir():
        hint = (" (a run directory: continue it with `fieldsolve run --resume DIR`)"
                if (path / "config.resolved.yaml").exists() else "")
        raise ConfigError(f"{path}: is a directory, not a YAML config file{hint}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    return decode_config_bytes(data, str(path))


def load_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text with the strict, bounded loader (see :class:`_Builder`)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: longer than {MAX_CONFIG_BYTES >> 20} MiB; a config is a small YAML text")
    if "\x00" in text:
        raise ConfigError(f"{source}: contains NUL characters (binary data), not YAML text")
    loader = _StrictLoader(text)
    try:
        return _Builder(loader, source).run()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        raise ConfigError(f"{source}:{where} not valid YAML ({problem})") from None
    finally:
        loader.dispose()


def parse_scalar(text: str) -> Any:
    """A ``--set`` value: parsed as a YAML scalar/flow value with the strict loader."""
    return load_yaml(text, source="--set value") if text.strip() else ""


def apply_overrides(data: dict, overrides) -> dict:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a nested dict copy."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        key, text = item.split("=", 1)
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"--set {item!r}: empty key component in {key!r}")
        try:
            value = parse_scalar(text)
        except ConfigError as exc:
            raise ConfigError(f"--set {key.strip()}: {str(exc).split(': ', 1)[-1]}") from None
        node = data
        for i, p in enumerate(parts[:-1]):
            if isinstance(node, list):
                if not p.isdigit() or int(p) >= len(node):
                    raise ConfigError(f"--set {item!r}: {_path_str(parts[:i + 1])} is not an index of a "
                                      f"list of {len(node)}")
                node = node[int(p)]
            elif isinstance(node, dict):
                if node.get(p) is None:
                    node[p] = {}
                node = node[p]
            else:
                raise ConfigError(f"--set {item!r}: {_path_str(parts[:i])} = {node!r} is not a section")
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(f"--set {item!r}: {last!r} is not an index of a list of {len(node)}")
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"--set {item!r}: {_path_str(parts[:-1])} = {node!r} is not a section")
    return data
