"""How the report reads a Tau dialogue folder: the agent's ChatReAct replies, the tool outputs
shown to it, the task instruction and the reward (text only, never run)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from shared.environment import TranscriptFormat
from shared.files import read_json_or_none

OBSERVATION = "API output: "  # how the ChatReAct agent is shown a tool's result


def parse_reply(text: str) -> dict[str, Any]:
    """`Thought:\\n...\\nAction:\\n{"name": ..., "arguments": ...}`: the JSON after the last `Action:`."""
    if "Action:" not in text:
        return {"thought": "", "kind": "raw", "action": text.strip()}
    before, _, action = text.rpartition("Action:")
    thought = re.sub(r"^\s*Thought:\s*", "", before).strip()
    try:
        parsed = json.loads(action.strip())
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the decoder goes
        parsed = None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("name"), str):
        return {"thought": thought, "kind": "raw", "action": action.strip()}
    arguments = parsed.get("arguments")
    if parsed["name"] == "respond" and isinstance(arguments, dict) and "content" in arguments:
        return {"thought": thought, "kind": "talk", "action": str(arguments["content"])}
    return {"thought": thought, "kind": "call", "name": parsed["name"], "action": json.dumps(arguments, indent=1, ensure_ascii=False)}


def is_observation(role: str, text: str) -> bool:
    return role == "user" and text.startswith(OBSERVATION)


def goal_text(folder: Path) -> str:
    goal = read_json_or_none(folder / "goal_list.json")
    if isinstance(goal, dict) and goal.get("instruction"):
        return str(goal["instruction"]).strip()
    grade = read_json_or_none(folder / "eval_result.json")
    task = ((grade or {}).get("info") or {}).get("task") if isinstance(grade, dict) else None
    return str(task.get("instruction", "")).strip() if isinstance(task, dict) else ""


def grade_summary(grade: dict[str, Any]) -> dict[str, Any]:
    """The reward and v1's reward info (the eval_result also holds the whole task)."""
    reward_info = ((grade.get("info") or {}).get("reward_info") or {}) if isinstance(grade.get("info"), dict) else {}
    info = reward_info.get("info") if isinstance(reward_info, dict) else None
    return {"reward": grade.get("reward"), "reward_info": info if isinstance(info, dict) else None}


def outcome_text(passed: bool, score: float | None) -> str:
    return "reward ?" if score is None else f"reward {score:g}"


TRANSCRIPT = TranscriptFormat(
    agent_chat_files=("reasoning_trajectory.json", "dial_hist_system_list.json"),
    simulator_messages_file="dialogue_history.json",
    parse_reply=parse_reply,
    is_observation=is_observation,
    goal_text=goal_text,
    grade_summary=grade_summary,
    outcome_text=outcome_text,
)
