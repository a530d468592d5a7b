"""The user turn being built: what every behaviour stage reads and rewrites."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    """What one user turn is building; stages read and rewrite `content`."""

    dial_hist: str
    content: str = ""
    skip_behaviors: bool = False  # a rest-provider turn: impatience, tangential, fragments are skipped
    current_angry: bool = False
    suppress_cynical: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)  # what the behaviours did, for the transcript viewer

    def note(self, event: str, **details: Any) -> None:
        self.events.append({"event": event, **details})
