"""Scripted model files for runner tests (real files read by the `scripted:` backend)."""

from __future__ import annotations

import json
from pathlib import Path

# One JSON object that satisfies every structured helper schema (extra keys are ignored), so a
# single scripted file can stand in for all helpers: verdict true, tangent, complaints, tracker
# and judge selecting items 1..30, three unavailable goals.
UNION = {
    "result": True,
    "thought": "t",
    "utterance": "By the way, I love sailing.",
    "utterances": ["You ignored what I said about sailing, which is rather disappointing to me honestly."] * 5,
    "reasoning": "r",
    "selected_numbers": list(range(1, 31)),
    "unavailable_user_goals": ["You want a sea view.", "You want a parrot.", "You want a helipad."],
}


def write(path: Path, replies: list[str]) -> str:
    path.write_text(json.dumps(replies))
    return f"scripted:{path}"


def helpers(path: Path, select: list[int] | None = None, count: int = 3000) -> str:
    reply = dict(UNION)
    if select is not None:
        reply["selected_numbers"] = select
    return write(path, [json.dumps(reply)] * count)
