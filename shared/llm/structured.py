"""Structured output: JSON-schema mode where the backend has it, prompt-and-parse where not.

Prompt-and-parse shows the model a skeleton of the object it must write (small models follow a
shape better than a schema), extracts the first JSON object of the reply (code fences and chatter
around it are tolerated), validates it, and on failure asks again with the validation error.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from pydantic import BaseModel, ValidationError


def json_schema_of(schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    return schema if isinstance(schema, dict) else schema.model_json_schema()


def schema_name(schema: type[BaseModel] | dict[str, Any]) -> str:
    if isinstance(schema, dict):
        return str(schema.get("title") or "result").replace(" ", "_")
    return schema.__name__


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {})
        return target if isinstance(target, dict) else {}
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        return _resolve(options[0], root) if options else node
    return node


def skeleton(node: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    """A JSON-looking template of the expected object, with placeholders for the values."""
    root = root or node
    node = _resolve(node, root)
    if "enum" in node:
        return "<one of " + " | ".join(json.dumps(v) for v in node["enum"]) + ">"
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        inner = ", ".join(f"{json.dumps(k)}: {skeleton(v, root)}" for k, v in node.get("properties", {}).items())
        return "{" + inner + "}"
    if kind == "array":
        return "[" + skeleton(node.get("items", {}), root) + ", ...]"
    return {"string": '"<string>"', "boolean": "<true or false>", "integer": "<integer>", "number": "<number>"}.get(str(kind), "<value>")


def instruction(schema: type[BaseModel] | dict[str, Any]) -> str:
    """The format request appended to the last user message.

    Only the skeleton, not the raw schema: small models copy a raw schema back instead of
    answering (seen with the embedded SmolLM2), while large models follow a skeleton as well.
    Field descriptions, where the schema has them, are listed after it.
    """
    js = json_schema_of(schema)
    notes = [f"{name}: {sub['description']}" for name, sub in js.get("properties", {}).items() if sub.get("description")]
    text = f"\n\nReply with a JSON object like {skeleton(js)} and nothing else."
    return text + ("\n" + "\n".join(notes) if notes else "")


MAX_JSON_STARTS = 256  # `{`/`[` positions tried; a real reply has its object after a few words of chatter


class NoJSON(ValueError):
    """The reply holds no JSON value at all (as opposed to JSON of the wrong shape)."""


def extract_json(text: str) -> Any:
    """The first JSON value in `text` that decodes (whole text, then each `{` or `[` in turn, the
    first MAX_JSON_STARTS of them).

    JSON nested deeper than the decoder's recursion limit does not decode (RecursionError is
    caught like any decoding error), so no model text can raise anything but NoJSON here; the cap
    on start positions keeps a reply of thousands of brackets from costing seconds per parse."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        pass
    decoder = json.JSONDecoder()
    starts = (index for index, char in enumerate(stripped) if char in "{[")
    for index in itertools.islice(starts, MAX_JSON_STARTS):
        try:
            value, _ = decoder.raw_decode(stripped, index)
            return value
        except (ValueError, RecursionError):
            continue
    raise NoJSON("no JSON object found in the reply")


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "object": dict,
    "array": list,
    "null": type(None),
}


def check_json_schema(node: dict[str, Any], value: Any, root: dict[str, Any] | None = None, where: str = "$") -> None:
    """Validate `value` against the subset of JSON schema that structured calls use."""
    root = root or node
    if "anyOf" in node:
        errors = []
        for option in node["anyOf"]:
            try:
                check_json_schema(option, value, root, where)
                return
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(f"{where}: matches none of the allowed forms ({'; '.join(errors)})")
    node = _resolve(node, root)
    if "enum" in node and value not in node["enum"]:
        raise ValueError(f"{where}: {value!r} is not one of {node['enum']}")
    kind = node.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        expected = _TYPES[kind]
        if not isinstance(value, expected) or (kind in ("integer", "number") and isinstance(value, bool)):
            raise ValueError(f"{where}: expected {kind}, got {type(value).__name__}")
    if isinstance(value, dict):
        for name in node.get("required", []):
            if name not in value:
                raise ValueError(f"{where}: missing required key {name!r}")
        for name, sub in node.get("properties", {}).items():
            if name in value:
                check_json_schema(sub, value[name], root, f"{where}.{name}")
    if isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            check_json_schema(node["items"], item, root, f"{where}[{i}]")


def validate(schema: type[BaseModel] | dict[str, Any], text: str) -> Any:
    """Parse and validate a reply; raises ValueError with a short reason the model can act on."""
    value = extract_json(text)
    if isinstance(schema, dict):
        check_json_schema(schema, value)
        return value
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or "$"
        raise ValueError(f"{location}: {first['msg']}") from None
