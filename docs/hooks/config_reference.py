"""mkdocs hook: renders the configuration reference from the config's own pydantic schema.

The page `config-reference.md` holds a marker; this hook replaces it at build time, so the
reference can never drift from what `bot.config` actually accepts.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = "<!-- mlgate:config-reference -->"


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return "mapping"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop or "oneOf" in prop:
        return " or ".join(_type(p, defs) for p in prop.get("anyOf", prop.get("oneOf", [])))
    t = prop.get("type", "any")
    if t == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if t == "object":
        return "mapping"
    return str(t)


def _rows(schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> list[str]:
    rows: list[str] = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        target = prop
        if "$ref" in prop:
            target = defs[prop["$ref"].split("/")[-1]]
        elif prop.get("type") == "array" and "$ref" in prop.get("items", {}):
            target = defs[prop["items"]["$ref"].split("/")[-1]]
            key += "[]"
        elif isinstance(prop.get("additionalProperties"), dict) and "$ref" in prop["additionalProperties"]:
            target = defs[prop["additionalProperties"]["$ref"].split("/")[-1]]
            key += ".<name>"
        default = "required" if name in required else (
            f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        )
        bounds = ", ".join(
            f"{sym} {prop[k]}"
            for k, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))
            if k in prop
        )
        desc = prop.get("description", "") or target.get("description", "")
        rows.append(f"| `{key}` | {_type(prop, defs)} | {default} | {bounds} | {desc} |")
        if "properties" in target and target is not prop or "properties" in prop:
            rows.extend(_rows(target, defs, key + "."))
    return rows


def config_reference() -> str:
    from bot.config import Config

    schema = Config.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    head = "| key | type | default | bounds | meaning |\n|---|---|---|---|---|"
    return head + "\n" + "\n".join(_rows(schema, defs, ""))


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, config_reference())
    return markdown
