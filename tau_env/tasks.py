"""v1 tasks, read from upstream `tasks_test.py` as data: a restricted `ast` reader, never executed.

Only `Task(...)`/`Action(...)` calls with keyword arguments, lists, dicts, tuples and literals
are accepted; anything else is an error. The parsed tasks are cached as JSON per file content.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from shared.errors import DataError
from shared.files import write_json_atomic
from shared.paths import cache_dir
from tau_env.resources import ROOT, check_domain, read_bytes

TASK_LISTS = {"airline": "TASKS", "retail": "TASKS_TEST"}
TAGS = {"airline": "<FLIGHT>", "retail": "<RETAIL>"}


@dataclass(frozen=True)
class Task:
    user_id: str
    instruction: str  # tagged (<FLIGHT>/<RETAIL>), as in the file
    actions: tuple[dict[str, Any], ...] = ()
    outputs: tuple[str, ...] = ()
    annotator: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def untagged_instruction(self) -> str:
        for tag in TAGS.values():
            if self.instruction.startswith(tag):
                return self.instruction[len(tag) :]
        return self.instruction


class _Reader:
    """Turns the task list's AST into plain data, refusing anything that is not data."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, node: ast.AST, what: str) -> DataError:
        return DataError(f"{self.filename}:{getattr(node, 'lineno', '?')}: {what} is not allowed in a task file")

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for key, item in zip(node.keys, node.values, strict=True):
                if key is None:
                    raise self.fail(node, "a ** expansion")
                out[self.value(key)] = self.value(item)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            operand = node.operand.value
            if isinstance(operand, int | float | complex):
                return -operand
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("Task", "Action"):
            if node.args or any(k.arg is None for k in node.keywords):
                raise self.fail(node, f"{node.func.id}() with positional or ** arguments")
            return {"__type__": node.func.id, **{k.arg: self.value(k.value) for k in node.keywords if k.arg}}
        raise self.fail(node, type(node).__name__)

    def task_list(self, source: str, name: str) -> list[dict[str, Any]]:
        tree = ast.parse(source, filename=self.filename)
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets):
                tasks = self.value(statement.value)
                if not isinstance(tasks, list):
                    raise DataError(f"{self.filename}: {name} is not a list")
                return tasks
        raise DataError(f"{self.filename}: no {name} = [...] assignment")


def _to_task(raw: dict[str, Any]) -> Task:
    if raw.get("__type__") != "Task":
        raise DataError("the task list holds something other than Task(...)")
    actions = []
    for action in raw.get("actions", []):
        if action.get("__type__") != "Action":
            raise DataError("a task's actions hold something other than Action(...)")
        actions.append({"name": action["name"], "kwargs": action.get("kwargs", {})})
    known = {"__type__", "user_id", "instruction", "actions", "outputs", "annotator"}
    return Task(
        user_id=raw["user_id"],
        instruction=raw["instruction"],
        actions=tuple(actions),
        outputs=tuple(raw.get("outputs", [])),
        annotator=str(raw.get("annotator", "")),
        extra={k: v for k, v in raw.items() if k not in known},
    )


@cache
def tasks(domain: str) -> tuple[Task, ...]:
    """Every task of the domain's tasks_test.py, in file order (indexes are v1 task indexes)."""
    check_domain(domain)
    repo_path = f"{ROOT}/tau_bench/envs/{domain}/tasks_test.py"
    raw = read_bytes(repo_path)
    cached = cache_dir() / "tau_tasks" / f"{domain}-{hashlib.sha256(raw).hexdigest()[:16]}.json"
    try:
        parsed = json.loads(cached.read_text())
    except (OSError, ValueError):
        parsed = _Reader(repo_path).task_list(raw.decode("utf-8"), TASK_LISTS[domain])
        try:
            write_json_atomic(cached, parsed, indent=None)
        except OSError:
            pass  # the cache only saves time
    return tuple(_to_task(t) for t in parsed)


@cache
def test_indexes(domain: str) -> tuple[int, ...]:
    """The paper's test ids: 46 airline and 111 retail (the tasks whose GT needs no transfer)."""
    check_domain(domain)
    return tuple(json.loads(read_bytes(f"{ROOT}/testset_{domain}_idx.json")))


@cache
def goal_file(domain: str, index: int) -> dict[str, Any]:
    """`goal_list/tau_goal_list/<domain>_<index>.json`: instruction and the goal items' source."""
    return json.loads(read_bytes(f"{ROOT}/goal_list/tau_goal_list/{domain}_{index}.json"))


def goal_items(domain: str, index: int) -> list[str]:
    """The initial query, then every hint, in file order."""
    state = goal_file(domain, index)["dialogue_state"]
    return [state["initial_query"], *(hint["hint"] for hint in state["hints"])]
