"""How the report reads a MultiWOZ dialogue folder: the agent's `Thought/Action` replies, the
system observations, the goal text and the grade's per-domain verdicts (text only, never run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from multiwoz_env.protocol import TALK_DONE
from shared.environment import TranscriptFormat
from shared.files import read_json_or_none

_TAGS = re.compile(r"<[^>]+>")


def parse_reply(text: str) -> dict[str, Any]:
    """`- Thought: ...\\n- Action: API call{...}` or `Action: Talk("...")`, as the protocol reads it:
    the action is the text after the last `Action:`."""
    if "Action:" not in text:
        return {"thought": "", "kind": "raw", "action": text.strip()}
    before, _, action = text.rpartition("Action:")
    # `\s*(?:-\s*)?`, not `\s*-?\s*`: the same prefixes, without quadratic backtracking on long whitespace.
    thought = re.sub(r"^\s*(?:-\s*)?Thought:\s*", "", before).rstrip().removesuffix("-").rstrip()
    action = action.strip()
    if action.startswith("Talk(") and action.endswith(")"):
        said = action[5:-1].strip()
        if len(said) >= 2 and said[0] == said[-1] and said[0] in "\"'":
            said = said[1:-1]
        return {"thought": thought, "kind": "talk", "action": said}
    if "API call" in action and not action.startswith("Talk"):
        payload = action.split("API call", 1)[1].strip()
        name = re.search(r"""['"]api_name['"]\s*:\s*['"]([^'"]+)['"]""", payload)
        return {"thought": thought, "kind": "call", "name": name.group(1) if name else None, "action": payload}
    return {"thought": thought, "kind": "raw", "action": action}


def is_observation(role: str, text: str) -> bool:
    return role == "system"  # after the first message (the prompt), every system message is an observation


def user_as_said(text: str) -> str:
    return text[1:] if text.startswith(" ") else text  # the agent sees each user turn with one leading space


def goal_text(folder: Path) -> str:
    goal = read_json_or_none(folder / "goal_dict.json")
    message = goal.get("message") if isinstance(goal, dict) else None
    if isinstance(message, list):
        return " ".join(_TAGS.sub("", str(line)).strip().rstrip(".") + "." for line in message)
    return ""


def grade_summary(grade: dict[str, Any]) -> dict[str, Any]:
    return {"domains": {k: bool(v.get("book", True)) if isinstance(v, dict) else v for k, v in grade.items()}}


TRANSCRIPT = TranscriptFormat(
    agent_chat_files=("dial_hist_system_list.json",),
    simulator_messages_file="user_message_list.json",
    parse_reply=parse_reply,
    is_observation=is_observation,
    hidden_observations=(TALK_DONE,),  # every Talk is acknowledged with it; it carries nothing
    user_as_said=user_as_said,
    goal_text=goal_text,
    grade_summary=grade_summary,
)
