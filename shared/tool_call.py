"""A tool call as a model wrote it: shared by the model layer, the environments and agent plug-ins
(a module of its own, so that the seam does not import the model layer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool-calling reply, as the model wrote it (`arguments` is its JSON text, which
    may not parse: the environment answers that with its own error observation)."""

    id: str
    name: str
    arguments: str

    def as_message_part(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def tool_calls_of(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    """Every well-formed call of a chat message in the API's shape (a model's answer or a saved
    trajectory); a part without a function name is skipped, arguments sent as an object become
    their JSON text."""
    calls = message.get("tool_calls")
    out = []
    for position, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        out.append(ToolCall(str(call.get("id") or f"call_{position}"), function["name"], text))
    return tuple(out)
