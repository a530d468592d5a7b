"""Our v1 tools against the oracle recordings (golden/tau_v1_tools.json): every probe call's
observation byte for byte and the DB hash after every call; the hash function on its vectors."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tau_env import call_tool, data_hash, load_db
from tau_env.db import to_hashable
from tau_env.tool_step import ToolOutputError


@cache
def golden_data(path: Path) -> dict[str, Any]:
    return json.loads((path / "tau_v1_tools.json").read_text())


def test_hash_vectors_and_pristine_hashes(golden: Path, data_home: Path) -> None:
    g = golden_data(golden)
    for vector in g["hash_vectors"]:
        canonical = str(to_hashable(vector["value"]))
        assert canonical == vector["canonical_string"]
        assert hashlib.sha256(canonical.encode()).hexdigest() == vector["sha256"]
    for domain in ("airline", "retail"):
        assert data_hash(load_db(domain)) == g["meta"]["base_data_hash"][domain]


class HashChecker:
    """Checks our DB hash against the recording after every call (the incremental hash takes
    milliseconds, so every call is checked)."""

    def __init__(self, db: dict[str, Any], recorded: str) -> None:
        self.recorded = recorded

    def after(self, db: dict[str, Any], recorded: str) -> bool:
        self.recorded = recorded
        return data_hash(db) == recorded


def replay(domain: str, sequence: dict[str, Any], base_hash: str) -> list[str]:
    db = load_db(domain)
    checker = HashChecker(db, base_hash)
    problems = []
    for index, call in enumerate(sequence["calls"]):
        where = f"{sequence['id']}[{index}] {call['name']}({call['kwargs']})"
        if "exception" in call:
            with pytest.raises(ToolOutputError):
                call_tool(domain, db, call["name"], call["kwargs"])
            continue
        output = call_tool(domain, db, call["name"], call["kwargs"])
        if output != call["output"]:
            problems.append(f"{where}:\n  ours: {output[:400]!r}\n  v1:   {call['output'][:400]!r}")
        if call.get("done"):
            break  # a terminal call ends the episode (its reward replays on a pristine DB)
        if not checker.after(db, call["data_hash_after"]):
            problems.append(f"{where}: DB hash differs after the call")
    return problems


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_every_probe_sequence(domain: str, golden: Path, data_home: Path) -> None:
    data = golden_data(golden)
    base = data["meta"]["base_data_hash"][domain]
    problems = [p for sequence in data["probes"][domain] for p in replay(domain, sequence, base)]
    assert problems == [], "\n".join(problems[:30]) + f"\n({len(problems)} problems)"


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_ground_truth_actions_of_every_task(domain: str, golden: Path, data_home: Path) -> None:
    tasks = [t for t in golden_data(golden)["tasks"] if t["domain"] == domain]
    problems = []
    for task in tasks:
        db = load_db(domain)
        checker = HashChecker(db, task["base_data_hash"])
        for index, call in enumerate(task["actions"]):
            output = call_tool(domain, db, call["name"], call["kwargs"])
            if output != call["output"]:
                problems.append(f"task {task['task_index']}[{index}] {call['name']}: {output[:300]!r} != {call['output'][:300]!r}")
            if not checker.after(db, call["data_hash_after"]):
                problems.append(f"task {task['task_index']}[{index}] {call['name']}: hash differs")
        if checker.recorded != task["gt_data_hash"]:
            problems.append(f"task {task['task_index']}: final hash differs")
    assert problems == [], "\n".join(problems[:30]) + f"\n({len(problems)} problems)"
