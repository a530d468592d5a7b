"""`make bench` measurements of the episode DB: the reward's cost with the incremental hash against
v1's way (a whole-DB copy per episode, the whole DB hashed), and the two hashes compared on a grid
of scripted trajectories built from the test tasks' ground truth."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from tau_env.db import data_hash, load_db, pristine, reference_hash
from tau_env.resources import TABLES, table_bytes
from tau_env.reward import ground_truth_hash, reward_result
from tau_env.tasks import tasks, test_indexes
from tau_env.tool_step import TERMINAL_TOOLS, ToolOutputError, call_tool

Action = dict[str, Any]


def v1_db(domain: str) -> dict[str, Any]:
    """What v1 builds per episode: every table parsed anew from its file."""
    return {table: json.loads(table_bytes(domain, table)) for table in TABLES[domain]}


def v1_hash(db: dict[str, Any]) -> str:
    """v1's hash of a plain DB, v1's way (the whole canonical string)."""
    return reference_hash(db)


def replay(domain: str, db: dict[str, Any], actions: list[Action]) -> dict[str, Any]:
    for action in actions:
        if action["name"] in TERMINAL_TOOLS or action["name"] == "respond":
            continue
        try:
            call_tool(domain, db, action["name"], action["kwargs"])
        except ToolOutputError:
            pass
    return db


def _cpu_ms(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1000


def reward_cost(domain: str = "airline", count: int = 10) -> dict[str, Any]:
    """CPU of one reward with no agent action, over `count` tasks: as the kit grades (the GT hash
    computed once per task, so cleared before each) and as v1 did. Parsing the tables and building
    their pieces happens once per process and domain; it is reported on its own."""
    pristine.cache_clear()
    once = _cpu_ms(lambda: data_hash(load_db(domain)))  # parse + pieces, once per process and domain
    ours, v1 = [], []
    for index in range(count):
        ground_truth_hash.cache_clear()
        started = time.process_time()
        reward_result(domain, index, load_db(domain), [])
        ours.append((time.process_time() - started) * 1000)
        gt = [dict(a) for a in tasks(domain)[index].actions]
        started = time.process_time()
        _ = v1_hash(v1_db(domain)) == v1_hash(replay(domain, v1_db(domain), gt))
        v1.append((time.process_time() - started) * 1000)
    ours_ms, v1_ms = statistics.median(ours), statistics.median(v1)
    return {
        "domain": domain,
        "tasks": count,
        "reward_ms_median": round(ours_ms, 1),
        "v1_reward_ms_median": round(v1_ms, 1),
        "ratio": round(v1_ms / ours_ms, 1),
        "parse_and_pieces_once_per_process_ms": round(once, 1),
    }


def _variants(actions: list[Action]) -> list[list[Action]]:
    """Four trajectories per task: the ground truth, nothing, all but the last write, and the
    ground truth twice (a repeated write fails or changes the DB again)."""
    writes = [a for a in actions if a["name"] != "respond"]
    return [actions, [], writes[:-1], actions + actions]


def exactness_grid(per_domain: int | None = None) -> dict[str, Any]:
    """Every test task (or the first `per_domain` of each domain) x four trajectories: the episode
    DB's hash and reward against v1's."""
    counts = {"trajectories": 0, "same_hash": 0, "same_reward": 0, "reward_1": 0}
    for domain in ("airline", "retail"):
        for index in test_indexes(domain)[:per_domain]:
            gt = [dict(a) for a in tasks(domain)[index].actions]
            gt_v1 = v1_hash(replay(domain, v1_db(domain), gt))
            gt_ours = ground_truth_hash(domain, index)
            for actions in _variants(gt):
                ours = data_hash(replay(domain, load_db(domain), actions))
                theirs = v1_hash(replay(domain, v1_db(domain), actions))
                counts["trajectories"] += 1
                counts["same_hash"] += ours == theirs
                counts["same_reward"] += (ours == gt_ours) == (theirs == gt_v1)
                counts["reward_1"] += ours == gt_ours
    return counts


def bench() -> dict[str, Any]:
    """The `tau-db` suite of `make bench`: the reward's cost in both domains, and the exactness grid."""
    return {"reward": [reward_cost(domain) for domain in TABLES], "exactness": exactness_grid()}
