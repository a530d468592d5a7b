"""One tool call as v1's `Env.step` runs it: exceptions rendered as `Error: <message>`."""

from __future__ import annotations

from typing import Any

from tau_env.tools import registry

TERMINAL_TOOLS = ("transfer_to_human_agents",)


class ToolOutputError(Exception):
    """A tool returned a non-string (v1's `send_certificate` can return None): v1's response
    model raised a validation error there and the dialogue crashed."""


def call_tool(domain: str, db: dict[str, Any], name: str, kwargs: dict[str, Any]) -> str:
    """Run tool `name` on `db` (mutated in place) and return exactly the observation v1 gives."""
    tools = registry(domain)
    if name not in tools:
        return f"Unknown action {name}"
    try:
        output = tools[name].invoke(data=db, **kwargs)
    except Exception as exc:  # noqa: BLE001 - v1 renders every tool exception for the agent
        return f"Error: {exc}"
    if not isinstance(output, str):
        raise ToolOutputError(f"{name} returned {type(output).__name__}, not a string")
    return output
