"""MultiWOZ scenarios: the test split (89 goals in 40 shards) and the train split (883 goals).

`subset` is the original's per-shard cap O: 0 takes whole shards (89 test scenarios), k > 0 the
first k goals of every shard (1 -> 40, 2 -> 80). Order is shard order, as the original ran them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from multiwoz_env import resources
from shared.environment import Scenario
from shared.errors import ConfigError


def clean_goal_text(text: str) -> str:
    """The goal sentence as the original's simulator used it: the quotes around the goal dropped."""
    text = text.replace("Your current goal is '", "Your current goal is ")
    return text[:-1] if text.endswith("'") else text


def scenario_from_goal(goal: dict[str, Any], split: str) -> Scenario:
    return Scenario(
        id=goal["dial_idx"],
        domains=tuple(goal["domains"]),
        goal_text=clean_goal_text(goal["goal_text"]),
        goal=goal["goal_dict"],
        split=split,
    )


def scenario_ids(split: str = "test", subset: int = 0) -> list[str]:
    if split not in resources.SPLITS:
        raise ConfigError(f"unknown split {split!r}: choose test or train")
    if subset < 0:
        raise ConfigError(f"subset must be 0 (whole shards) or a positive per-shard cap, not {subset}")
    ids: list[str] = []
    for index in range(resources.N_SHARDS):
        goals = resources.shard(split, index)
        ids += goals[: subset or len(goals)]
    return ids


def _canonical(goal_id: str) -> str:
    return goal_id if goal_id.endswith(".json") else f"{goal_id}.json"


def scenarios(split: str = "test", subset: int = 0, ids: Sequence[str] | None = None) -> list[Scenario]:
    """The split's scenarios; `ids` (with or without `.json`) picks some of them, in the given order."""
    chosen = scenario_ids(split, subset)
    if ids:
        known = set(scenario_ids(split, 0))
        wanted = [_canonical(i) for i in ids]
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise ConfigError(f"not in the {split} split: {', '.join(unknown)}")
        chosen = wanted
    return [scenario_from_goal(resources.goal(split, goal_id), split) for goal_id in chosen]
