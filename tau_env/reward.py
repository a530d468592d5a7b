"""v1's reward: the final DB must hash like the DB after replaying the ground truth on a pristine
copy, and every expected output must appear in some `respond` (case-insensitive, commas ignored).

Pass rate = success in Tau: a dialogue succeeds when this reward is 1.0 (as in the paper).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tau_env.db import data_hash, load_db
from tau_env.tasks import tasks
from tau_env.tool_step import TERMINAL_TOOLS, call_tool

RESPOND = "respond"


@lru_cache(maxsize=512)
def ground_truth_hash(domain: str, task_index: int) -> str:
    """The DB hash after replaying the task's ground truth on a pristine DB (deterministic, so
    computed once per task: hashing a DB takes about half a second)."""
    gt_db = load_db(domain)
    for action in tasks(domain)[task_index].actions:
        if action["name"] not in TERMINAL_TOOLS:
            call_tool(domain, gt_db, action["name"], action["kwargs"])
    return data_hash(gt_db)


def reward_result(domain: str, task_index: int, db: dict[str, Any], actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`RewardResult.model_dump()` of v1: `{reward, info, actions}`."""
    task = tasks(domain)[task_index]
    agent_hash = data_hash(db)
    gt_actions = [a for a in task.actions if a["name"] != RESPOND]
    gt_hash = ground_truth_hash(domain, task_index)
    reward = 1.0 if agent_hash == gt_hash else 0.0
    info: dict[str, Any] = {"r_actions": reward, "gt_data_hash": gt_hash}
    if task.outputs:
        # v1 searches the episode's actions, to which the GT replay appended its own (no respond).
        said = [str(a["kwargs"].get("content", "")).lower().replace(",", "") for a in actions if a["name"] == RESPOND]
        found = {output: any(output.lower() in text for text in said) for output in task.outputs}
        r_outputs = 1.0 if all(found.values()) else 0.0
        if not r_outputs:
            reward = 0.0
        info = {"r_outputs": r_outputs, "outputs": found}
    return {"reward": reward, "info": info, "actions": [dict(a) for a in gt_actions]}


def calculate_reward(domain: str, task_index: int, db: dict[str, Any], actions: Sequence[dict[str, Any]]) -> float:
    """v1's reward for a finished episode (`db` the final DB, `actions` the episode's actions)."""
    return float(reward_result(domain, task_index, db, actions)["reward"])
