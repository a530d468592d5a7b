"""The booking grader (the original eval.py), from a dialogue folder's own files only.

A domain passes when exactly one booking exists, the booked entity (looked up again with the
sandbox's own retrieve API) satisfies every `info` slot, and every `book` slot equals the record.
Taxi alone is graded on its booking slots; with restaurant and accommodation it is graded by
resolving its endpoints to entities that satisfy those domains' goals.

Faithful by default, including two defects published numbers depend on (FIDELITY.md):
- the taxi time is never checked in the three-domain case (`strict_taxi_time=True` checks it);
- an apostrophe in a booked name can never match its goal (PMUL4756; `fix_apostrophe_names=True`
  compares names without apostrophes).
One deliberate change: where the original crashed (a booked name the lookup cannot find), the
domain is graded False instead of the dialogue silently vanishing from the denominators.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from multiwoz_env.sandbox import Sandbox
from shared.files import read_json, write_json_atomic, write_text_atomic

GRADE_FILE = "grading_result.json"
PASS_FILE = "pass_or_fail.txt"


@dataclass(frozen=True)
class GraderOptions:
    strict_taxi_time: bool = False
    fix_apostrophe_names: bool = False


class LookupFailed(Exception):
    """The grader's entity lookup raised inside the API (the original crashed or used stale data)."""


def later_or_equal(time: str, reference: str) -> bool:
    return datetime.strptime(time, "%H:%M") >= datetime.strptime(reference, "%H:%M")


def time_ok(slot: str, value: str, goal_value: str) -> bool:
    if slot == "leaveAt":
        return later_or_equal(value, goal_value)
    if slot == "arriveBy":
        return later_or_equal(goal_value, value)
    raise ValueError("compare_type must be leavAt or arriveBy")


def _hop_in(params: dict[str, Any]) -> Any:
    # The original passed the lookup through a subprocess: the parameters as a Python repr with
    # true/false rewritten, the result printed and read back with null rewritten too. Reproduced
    # because string values can change on the way.
    return ast.literal_eval(repr(params).replace("true", "True").replace("false", "False"))


def _hop_out(result: Any) -> Any:
    return ast.literal_eval(repr(result).replace("true", "True").replace("false", "False").replace("null", "None"))


def lookup(sandbox: Sandbox, domain: str, value: Any) -> dict[str, Any]:
    """The first entity the domain's retrieve API returns for a booked name (or schedule id), or {}."""
    domain = "accommodation" if domain == "hotel" else domain
    slot = "train_schedule_id" if domain == "train" else "name"
    try:
        result = _hop_out(sandbox.call(f"{domain}_retrieve", _hop_in({slot: value})))
        entities = result["result"]
        return entities[0] if len(entities) > 0 else {}
    except Exception as exc:
        raise LookupFailed(f"{domain}_retrieve({slot}={value!r}) raised {type(exc).__name__}") from exc


class Grader:
    def __init__(self, folder: Path, options: GraderOptions) -> None:
        self.folder = folder
        self.options = options
        self.domains: list[str] = read_json(folder / "domains.json")
        self.goal_dict: dict[str, Any] = read_json(folder / "goal_dict.json")
        self.sandbox = Sandbox.from_folder(folder)
        self.goal = copy.deepcopy({d: self.goal_dict[d] for d in self.domains})
        for intents in self.goal.values():
            for intent in intents.values():
                if isinstance(intent, dict):
                    intent.pop("pre_invalid", None)
                    intent.pop("invalid", None)

    def bookings(self, domain: str) -> list[dict[str, Any]]:
        return read_json(self.folder / "reservation" / f"{domain}_book_db.json")

    def info_ok(self, domain: str, entity: dict[str, Any], with_times: bool) -> bool:
        info = self.goal[domain]["info"]
        for slot, wanted in info.items():
            if slot not in entity:
                return False  # the original raised KeyError here (unfindable booking)
            value = entity[slot]
            if with_times and slot in ("arriveBy", "leaveAt"):
                if not time_ok(slot, str(value), wanted):
                    return False
            elif not self.same(slot, wanted, str(value)):
                return False
        return True

    def same(self, slot: str, wanted: str, got: str) -> bool:
        if slot == "name" and self.options.fix_apostrophe_names:
            return wanted.replace("'", "") == got.replace("'", "")
        return wanted == got

    def booking_domain(self, domain: str, with_times: bool) -> bool:
        """The general rule for a restaurant, accommodation or train goal."""
        records = self.bookings(domain)
        if len(records) > 1:
            return False
        book = self.goal[domain].get("book")
        if not book:
            return len(records) == 0
        if not records:
            return False
        record = records[0]
        key = record["train_schedule_id"] if domain == "train" else record["name"]
        try:
            entity = lookup(self.sandbox, domain, key)
        except LookupFailed:
            return False
        if not self.info_ok(domain, entity, with_times):
            return False
        return all(wanted == str(record[slot]) for slot, wanted in book.items() if slot not in ("invalid", "pre_invalid"))

    def taxi_alone(self) -> bool:
        records = self.bookings("taxi")
        if len(records) > 1:
            return False
        book = self.goal["taxi"].get("book")
        if not book:
            return len(records) == 0
        if not records:
            return False
        record = records[0]
        for slot, wanted in book.items():
            if slot in ("invalid", "pre_invalid"):
                continue
            if slot in ("arriveBy", "leaveAt"):
                if not record[slot] or not time_ok(slot, str(record[slot]), wanted):
                    return False
            elif wanted.lower() != str(record[slot]).lower():
                return False
        return True

    def taxi_between_bookings(self) -> bool:
        """Three-domain case: the taxi must run from a matching hotel to a matching restaurant."""
        records = self.bookings("taxi")
        if len(records) != 1:
            return False
        record = records[0]
        ok = True
        for endpoint, domain in (("destination", "restaurant"), ("departure", "accommodation")):
            try:
                entity = lookup(self.sandbox, domain, record[endpoint])
            except LookupFailed:
                return False
            if not entity or not self.info_ok(domain, entity, with_times=False):
                ok = False
        if self.options.strict_taxi_time:
            for slot, wanted in self.goal["taxi"].get("book", {}).items():
                if slot in ("arriveBy", "leaveAt") and (not record.get(slot) or not time_ok(slot, record[slot], wanted)):
                    ok = False
        return ok

    def grade(self) -> dict[str, bool]:
        correct = {d: True for d in self.domains if d != "attraction"}
        if {"taxi", "restaurant", "accommodation"} <= set(self.domains):
            for domain in ("restaurant", "accommodation"):
                correct[domain] = self.booking_domain(domain, with_times=False)
            if not (correct["restaurant"] and correct["accommodation"]):
                correct["taxi"] = False
            else:
                correct["taxi"] = self.taxi_between_bookings()
        else:
            for domain in self.domains:
                if domain == "attraction":
                    continue
                correct[domain] = self.taxi_alone() if domain == "taxi" else self.booking_domain(domain, with_times=True)
        return {("accommodation" if d == "hotel" else d): v for d, v in correct.items()}


def grade_folder(folder: str | Path, options: GraderOptions | None = None) -> dict[str, dict[str, bool]]:
    """`{domain: {"book": bool}}`; a passing domain whose goal has no booking gets `{}` (as the original)."""
    folder = Path(folder)
    grader = Grader(folder, options or GraderOptions())
    result: dict[str, dict[str, bool]] = {}
    for domain, passed in grader.grade().items():
        result[domain] = {"book": passed}
        if passed and not grader.goal_dict.get(domain, {}).get("book"):
            result[domain] = {}
    return result


def passed(grade: dict[str, dict[str, bool]]) -> bool:
    # A passed domain whose goal has no booking is `{}`: it counts as passed (the original crashed).
    return all(entry.get("book", True) for entry in grade.values())


def write_grade(folder: str | Path, options: GraderOptions | None = None) -> dict[str, dict[str, bool]]:
    """Grade a folder and write `grading_result.json` (indent 4) and `pass_or_fail.txt` (no newline)."""
    folder = Path(folder)
    grade = grade_folder(folder, options)
    # pass_or_fail.txt first: grading_result.json completes a dialogue folder (the runner's rule),
    # so a run killed between the two writes never leaves a complete folder without its verdict.
    write_text_atomic(folder / PASS_FILE, "PASS" if passed(grade) else "FAIL")
    write_json_atomic(folder / GRADE_FILE, grade)
    return grade
