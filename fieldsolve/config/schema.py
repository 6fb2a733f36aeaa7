"""The config schema: JSON schema for editors and the markdown reference of docs/runs.md, both
generated from the models."""
from __future__ import annotations

import json

from .runs import _adapter

__all__ = ["config_schema", "config_reference_markdown"]

_JSON_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _standard_keywords(node):
    """pydantic writes gt/ge for constraints that follow a BeforeValidator; use JSON-schema names."""
    if isinstance(node, dict):
        return {(_JSON_BOUNDS.get(k, k) if not isinstance(v, (dict, list)) else k): _standard_keywords(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_standard_keywords(v) for v in node]
    return node


def _type_str(p, defs):
    if "$ref" in p:
        return p["$ref"].split("/")[-1]
    if "const" in p:
        return repr(p["const"])
    if "enum" in p:
        return " \\| ".join(repr(e) for e in p["enum"])
    if "anyOf" in p or "oneOf" in p:
        return " \\| ".join(_type_str(q, defs) for q in p.get("anyOf", p.get("oneOf")))
    t = p.get("type", "any")
    if t == "array":
        inner = _type_str(p.get("items", {}), defs)
        n = (f", {p['minItems']}-{p['maxItems']} items" if "minItems" in p and "maxItems" in p
             else f", >= {p['minItems']} items" if "minItems" in p else "")
        return f"list of {inner}{n}"
    bounds = [f"{sym} {p[k]}" for k, sym in (("exclusiveMinimum", ">"), ("minimum", ">="),
                                             ("exclusiveMaximum", "<"), ("maximum", "<="))
              if k in p]
    if "pattern" in p:
        bounds.append(f"matching `{p['pattern']}`")
    return t + (f" ({', '.join(bounds)})" if bounds else "")


def config_reference_markdown() -> str:
    """The config reference (one table per section), generated from :func:`config_schema`."""
    schema = config_schema()
    defs = schema["$defs"]
    order = ["NBodyConfig", "PICConfig", "PoissonConfig", "LESConfig"]
    order += sorted(k for k in defs if k not in order)
    lines = []
    for name in order:
        d = defs[name]
        lines.append(f"#### `{name}`")
        lines.append("")
        desc = " ".join(d.get("description", "").split())
        if desc:
            lines.append(desc.replace("``", "`"))
            lines.append("")
        lines.append("| key | type | default | description |")
        lines.append("|---|---|---|---|")
        req = set(d.get("required", []))
        props = d.get("properties", {})
        keys = (["kind"] if "kind" in props else []) + [k for k in props if k != "kind"]
        for key in keys:
            p = props[key]
            default = "**required**" if key in req else f"`{json.dumps(p.get('default'))}`"
            text = " ".join(p.get("description", "").split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_str(p, defs)} | {default} | {text} |")
        lines.append("")
    return "\n".join(lines)


def config_schema() -> dict:
    """JSON schema of the run configuration (all run kinds)."""
    schema = _standard_keywords(_adapter().json_schema())
    schema["title"] = "fieldsolve run configuration"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
