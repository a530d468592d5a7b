"""Find a text in an upstream Python file with `ast`, without importing or running it.

A location names the file, the scope (`module`, a function, or `Class.method`), the assigned
name and the kind of value:

- `literal`, `format`, `replace`: a string constant (a plain text, a `.format` template, a
  `.replace` template: the kind says how the original filled it, the text is the same);
- `fstring`: an f-string, kept as its parts: text, and the source of each `{expression}`;
- `value`: a literal container (a dict for a function spec, a list or dict of data).

`occurrence` picks among several assignments to the same name in the scope (0 = the first, in
source order); `augmented` looks at `name += value` instead of `name = value`; `concat_prefix`
takes the string constant that starts a `"text" + expression` value; `keyword` finds the text
passed as that keyword argument of a call in the scope (`name` is then the keyword, and an
`x if c else "text"` argument gives its `else` text).
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

KINDS = ("literal", "format", "replace", "fstring", "value")
FStringParts = tuple[tuple[str, str], ...]  # ("text", "...") or ("expr", "<source of the expression>")
Extracted = str | FStringParts | Any


class LocationError(ValueError):
    """The location names nothing, or something of another kind, in the file."""


@dataclass(frozen=True)
class Location:
    id: str
    file: str  # upstream repo path
    name: str  # assigned name as written: `base_prompt`, `persona`, `self.goal_text`
    scope: str  # `module`, `function`, `Class.method`
    kind: str
    sha256: str
    occurrence: int = 0
    augmented: bool = False
    concat_prefix: bool = False
    keyword: bool = False

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Location:
        return cls(
            id=str(raw["id"]),
            file=str(raw["file"]),
            name=str(raw["name"]),
            scope=str(raw["scope"]),
            kind=str(raw["kind"]),
            sha256=str(raw["sha256"]),
            occurrence=int(raw.get("occurrence", 0)),
            augmented=bool(raw.get("augmented", False)),
            concat_prefix=bool(raw.get("concat_prefix", False)),
            keyword=bool(raw.get("keyword", False)),
        )


def _scope_body(tree: ast.Module, scope: str) -> list[ast.stmt]:
    if scope == "module":
        return tree.body
    body: list[ast.stmt] = tree.body
    for part in scope.split("."):
        found = next((n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part), None)
        if found is None:
            raise LocationError(f"no function or class {scope!r}")
        body = found.body
    return body


def _statements(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The scope's statements in source order, inside if/for/try/with blocks too, but not inside
    nested functions or classes (their names belong to another scope)."""
    for node in nodes:
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield from _statements([child])
            elif isinstance(child, ast.ExceptHandler | ast.match_case):
                yield from _statements(child.body)


def _assigned_values(body: list[ast.stmt], name: str, augmented: bool) -> list[ast.expr]:
    values: list[ast.expr] = []
    for node in _statements(body):
        if augmented and isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
            if ast.unparse(node.target) == name:
                values.append(node.value)
        elif not augmented and isinstance(node, ast.Assign):
            if any(ast.unparse(target) == name for target in node.targets):
                values.append(node.value)
    return values


def _keyword_values(body: list[ast.stmt], name: str) -> list[ast.expr]:
    values: list[ast.expr] = []
    for statement in _statements(body):
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == name:
                        value = keyword.value
                        values.append(value.orelse if isinstance(value, ast.IfExp) else value)
    return values


def _fstring_parts(node: ast.JoinedStr) -> FStringParts:
    parts: list[tuple[str, str]] = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(("text", value.value))
        elif isinstance(value, ast.FormattedValue):
            if value.conversion != -1 or value.format_spec is not None:
                raise LocationError("an f-string field with a conversion or format spec is not supported")
            parts.append(("expr", ast.unparse(value.value)))
        else:
            raise LocationError(f"unexpected f-string part {type(value).__name__}")
    return tuple(parts)


def _leftmost(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        node = node.left
    return node


def extract(source: str, location: Location) -> Extracted:
    """The value at `location` in `source` (the file's text). Raises LocationError."""
    if location.kind not in KINDS:
        raise LocationError(f"unknown kind {location.kind!r}")
    tree = ast.parse(source)
    body = _scope_body(tree, location.scope)
    if location.keyword:
        values = _keyword_values(body, location.name)
    else:
        values = _assigned_values(body, location.name, location.augmented)
    if location.concat_prefix:
        values = [_leftmost(v) for v in values if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add)]
    if location.kind in ("literal", "format", "replace", "fstring"):
        wanted: type[ast.expr] = ast.JoinedStr if location.kind == "fstring" else ast.Constant
        values = [v for v in values if isinstance(v, wanted) and (wanted is ast.JoinedStr or isinstance(getattr(v, "value", None), str))]
    if len(values) <= location.occurrence:
        operator = "+=" if location.augmented else "="
        raise LocationError(f"no {location.kind} assignment #{location.occurrence} `{location.name} {operator}` in {location.scope}")
    node = values[location.occurrence]
    if isinstance(node, ast.JoinedStr):
        return _fstring_parts(node)
    if location.kind == "value":
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise LocationError(f"`{location.name}` in {location.scope} is not a literal value") from None
    assert isinstance(node, ast.Constant) and isinstance(node.value, str)
    return node.value


def canonical(value: Extracted) -> bytes:
    """The bytes a location's SHA-256 is taken of: a text as UTF-8, anything else as sorted JSON."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")


def digest(value: Extracted) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()
