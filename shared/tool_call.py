"""A tool call as a model wrote it: shared by the model layer, the environments and agent plug-ins
(a module of its own, so that the seam does not import the model layer)."""

from __future__ import annotations

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
