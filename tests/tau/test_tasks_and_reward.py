"""v1 tasks read as data, test ids, goal items, and the reward against the oracle's reward cases."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared.errors import DataError
from tau_env import calculate_reward, call_tool, load_db
from tau_env import tasks as t
from tau_env.reward import reward_result


def golden_tasks(golden: Path) -> list[dict]:
    return json.loads((golden / "tau_v1_tools.json").read_text())["tasks"]


def test_tasks_parse_as_data(data_home: Path, golden: Path) -> None:
    assert (len(t.tasks("airline")), len(t.tasks("retail"))) == (50, 115)
    assert (len(t.test_indexes("airline")), len(t.test_indexes("retail"))) == (46, 111)
    assert sum(len(task.actions) for i, task in enumerate(t.tasks("airline")) if i in t.test_indexes("airline")) == 152
    assert sum(len(task.actions) for i, task in enumerate(t.tasks("retail")) if i in t.test_indexes("retail")) == 562
    for record in golden_tasks(golden):
        task = t.tasks(record["domain"])[record["task_index"]]
        assert task.user_id == record["user_id"] and task.instruction == record["instruction"]
        assert list(task.outputs) == record["outputs"]
        assert [{"name": a["name"], "kwargs": a["kwargs"]} for a in record["actions"]] == list(task.actions)
    assert t.tasks("airline")[0].untagged_instruction.startswith("Your user id is mia_li_3668.")
    excluded = {i for i in range(50) if i not in t.test_indexes("airline")}
    assert excluded == {13, 35, 36, 38}


def test_goal_items(data_home: Path) -> None:
    items = t.goal_items("airline", 0)
    goal = t.goal_file("airline", 0)
    assert items[0] == goal["dialogue_state"]["initial_query"] and len(items) == 1 + len(goal["dialogue_state"]["hints"])


def test_reader_refuses_code() -> None:
    reader = t._Reader("evil.py")
    with pytest.raises(DataError, match="Attribute is not allowed"):
        reader.task_list("TASKS = [Task(user_id=__import__('os').system)]", "TASKS")
    with pytest.raises(DataError, match="BinOp is not allowed"):
        reader.task_list("TASKS = [Task(user_id='a' + 'b')]", "TASKS")
    assert reader.task_list("TASKS = [Task(user_id='u', actions=[Action(name='x', kwargs={'n': -1})])]", "TASKS")[0]["user_id"] == "u"


FULL = os.environ.get("NCUSIM_FULL_FIDELITY") == "1"


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_reward_cases(domain: str, data_home: Path, golden: Path) -> None:
    """Every task with expected outputs and every 4th other task (each case hashes whole DBs at
    ~0.5 s a time); `NCUSIM_FULL_FIDELITY=1` (make fidelity) checks all 157."""
    checked = expected = 0
    for record in golden_tasks(golden):
        if record["domain"] != domain:
            continue
        if not (FULL or record["outputs"] or record["task_index"] % 4 == 0):
            continue
        expected += 1
        index, cases = record["task_index"], record["reward_cases"]
        pristine = load_db(domain)
        assert reward_result(domain, index, pristine, []) == cases["agent_did_nothing"]
        db = load_db(domain)
        actions = [{"name": a["name"], "kwargs": a["kwargs"]} for a in record["actions"]]
        for action in actions:
            call_tool(domain, db, action["name"], action["kwargs"])
        assert reward_result(domain, index, db, actions) == cases["gt_actions_only"]
        if "gt_actions_and_respond_with_outputs" in cases:
            case = dict(cases["gt_actions_and_respond_with_outputs"])
            said = actions + [{"name": "respond", "kwargs": {"content": case.pop("respond_content")}}]
            assert reward_result(domain, index, db, said) == case
            assert calculate_reward(domain, index, db, said) == case["reward"] == 1.0
        checked += 1
    assert checked == expected and checked >= (46 if FULL and domain == "airline" else 111 if FULL else 12)
