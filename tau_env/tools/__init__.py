"""v1 tools of both domains. Each tool is a class whose static `invoke(data, ...)` takes the DB
first and the agent's arguments as keywords, so argument errors carry the original's wording
(`GetUserDetails.invoke() missing 1 required positional argument: 'user_id'`)."""

from __future__ import annotations

from typing import Any


def registry(domain: str) -> dict[str, Any]:
    """Tool name -> tool class, as v1's `tools_map` (the transfer tool included)."""
    if domain == "airline":
        from tau_env.tools import airline

        return airline.TOOLS
    if domain == "retail":
        from tau_env.tools import retail

        return retail.TOOLS
    raise ValueError(f"unknown Tau domain {domain!r}: airline or retail")
