"""Error analysis and appendix metrics of one MultiWOZ dialogue folder (the original's analysis_error.py and additional_analysis.py).

Read-only: nothing here writes to the folder. Per-dialogue counters come from the folder's own
files; `summarize` turns a list of them into the numbers the original printed (same meanings;
the original's labels are kept in `PARITY_LABELS`). Deliberate differences from the original
scripts are listed in FIDELITY.md (A-rows): agent text is parsed with `ast.literal_eval`, never
executed; failure categories are judged on the dialogue's own sandbox; a dialogue without a
failure, or without an agent turn, never divides by zero.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from multiwoz_env import resources
from multiwoz_env.grader import Grader, GraderOptions, LookupFailed, lookup, time_ok
from shared.analysis.counters import mean_or_none, tangential_counts
from shared.apology import is_apology
from shared.files import read_json
from shared.scoring import read_aligned

HELPER_APIS = ("show_app_description", "show_api_description", "show_api_docs")
# The apology keywords of the original's appendix script (lower-cased substrings).
_INT_TYPES = ("int", "integer")


def _api_docs() -> dict[str, dict[str, Any]]:
    return {doc["api_name"]: doc for doc in resources.api_docs()}


def parse_call(text: str) -> dict[str, Any] | None:
    """A logged call (`{'api_name': ..., 'input_parameters': {...}}`) as a dict, or None when it
    is not a Python literal with both keys (the original's "format error")."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict) or "api_name" not in value or "input_parameters" not in value:
        return None
    return value


def _violates(parameter: dict[str, Any], value: Any) -> bool:
    """The original's type/constraint rule: int and bool types, and non-empty value lists."""
    kind = str(parameter.get("type", "")).lower()
    if kind in _INT_TYPES and not isinstance(value, int):
        return True
    if kind == "bool" and not isinstance(value, bool):
        return True
    constraints = parameter.get("constraints")
    return isinstance(constraints, list) and bool(constraints) and value not in constraints


def _duplicates(calls: list[dict[str, Any]]) -> int:
    """Calls minus distinct calls, a call's identity being its name and sorted parameters."""
    keys = [_call_key(call) for call in calls]
    return len(keys) - len(set(keys))


def _text(value: Any) -> str:
    """str(value), or "" for a value holding an int too long for str()."""
    try:
        return str(value)
    except ValueError:
        return ""


def _names_show(name: Any) -> bool:
    """analysis_error.py's `"show" in api_name`: a substring of a string, an element of a list or a
    key of a dict; any other value raised there and the call was skipped."""
    return "show" in name if isinstance(name, str | list | tuple | dict) else False


def _call_key(call: dict[str, Any]) -> str:
    """repr of the call with sorted parameters; parameter keys of mixed types sort by their repr, and
    a call holding an int too long for repr() gets a key of its own (never a duplicate)."""
    parameters = call["input_parameters"]
    try:
        try:
            ordered = dict(sorted(parameters.items()))
        except TypeError:
            ordered = dict(sorted(parameters.items(), key=lambda item: repr(item[0])))
        return repr({**call, "input_parameters": ordered})
    except ValueError:
        return f"<call too large to show {id(call)}>"


def api_misuse(folder: Path) -> dict[str, int]:
    """Per-dialogue counts of `api_call_log.json` (analysis_error.py)."""
    log_file = folder / "api_call_log.json"
    entries = read_json(log_file) if log_file.is_file() else []
    docs = _api_docs()
    counts = dict.fromkeys(
        ("total_api_calls", "format_errors", "api_name_hallucinations", "input_param_hallucinations", "constraint_violations"), 0
    )
    parsed: list[dict[str, Any]] = []
    for entry in entries:
        counts["total_api_calls"] += 1
        call = parse_call(str(entry.get("call_log", ""))) if isinstance(entry, dict) else None
        if call is None:
            counts["format_errors"] += 1
            continue
        if isinstance(call["input_parameters"], dict):
            parsed.append(call)
        name = call["api_name"]
        if name in HELPER_APIS:
            continue
        if not isinstance(name, str) or name not in docs:  # a list or dict name cannot even be looked up
            counts["api_name_hallucinations"] += 1
            continue
        params = call["input_parameters"] if isinstance(call["input_parameters"], dict) else {}
        documented = {p["name"]: p for p in docs[name]["parameters"]}
        if any(key not in documented for key in params):
            counts["input_param_hallucinations"] += 1
        for key, value in params.items():  # in written order, stopping at the first undocumented key
            if key not in documented:
                break
            if _violates(documented[key], value):
                counts["constraint_violations"] += 1
                break
    helpers = [c for c in parsed if _names_show(c["api_name"])]
    counts["duplicate_calls"] = _duplicates(parsed)
    counts["helper_calls"] = len(helpers)
    counts["duplicate_helper_calls"] = _duplicates(helpers)
    return counts


def failure_categories(folder: Path) -> dict[str, int]:
    """no_book / multi_book / wrong_book events of a failed dialogue (analysis_error.py), judged
    on the dialogue's own sandbox; a booked name the lookup cannot find is a wrong booking."""
    counts = {"no_book": 0, "multi_book": 0, "wrong_book": 0}
    grader = Grader(folder, GraderOptions())
    goal = grader.goal

    def entity_ok(domain: str, record: dict[str, Any], with_times: bool) -> bool:
        key = record.get("train_schedule_id") if domain == "train" else record.get("name")
        try:
            entity = lookup(grader.sandbox, domain, key)
        except LookupFailed:
            return False
        if not entity or not grader.info_ok(domain, entity, with_times):
            return False
        return all(wanted == str(record.get(slot)) for slot, wanted in goal[domain].get("book", {}).items())

    def taxi_record_ok(record: dict[str, Any], three_domains: bool) -> bool:
        if three_domains:
            if "destination" not in record and "departure" not in record:
                return False
            for endpoint, domain in (("destination", "restaurant"), ("departure", "accommodation")):
                try:
                    entity = lookup(grader.sandbox, domain, record.get(endpoint))
                except LookupFailed:
                    return False
                if not entity or not grader.info_ok(domain, entity, with_times=False):
                    return False
            return True
        for slot, wanted in goal["taxi"].get("book", {}).items():
            got = record.get(slot)
            if slot in ("leaveAt", "arriveBy"):
                if not got or not time_ok(slot, str(got), wanted):
                    return False
            elif str(wanted).lower() != str(got).lower():
                return False
        return True

    three = {"taxi", "restaurant", "accommodation"} <= set(grader.domains)
    order = ["restaurant", "accommodation", "taxi"] if three else [d for d in grader.domains if d != "attraction"]
    for domain in order:
        records = grader.bookings(domain)
        if domain != "taxi" and three and not goal[domain].get("book"):
            continue
        if not records:
            if three or goal[domain].get("book"):
                counts["no_book"] += 1
            if domain == "taxi" and three:
                break
            continue
        if len(records) > 1:
            counts["multi_book"] += 1
        if domain == "taxi":
            ok = all(taxi_record_ok(r, three) for r in records)
        else:
            ok = all(entity_ok(domain, r, with_times=not three) for r in records)
        if not ok:
            counts["wrong_book"] += 1
    return counts


def _talk_turns(messages: list[dict[str, Any]]) -> list[str]:
    """The agent's talking turns: assistant messages with `Talk` anywhere, the last message excluded."""
    return [str(m.get("content", "")) for m in messages[:-1] if m.get("role") == "assistant" and "Talk" in str(m.get("content", ""))]


def apologises(talk: str) -> bool:
    """An apology word in the turn's action (what the user reads), not in its thought."""
    return is_apology(talk.split("Action:")[-1])


def appendix(folder: Path) -> dict[str, Any]:
    """Apology turns, tangential complaints and invented API results (additional_analysis.py)."""
    out: dict[str, Any] = {}
    chat_file = folder / "dial_hist_system_list.json"
    messages = read_json(chat_file) if chat_file.is_file() else []
    talks = _talk_turns(messages)
    out["agent_turns"] = len(talks)
    out["apology_turns"] = sum(apologises(t) for t in talks)
    responses_file = folder / "agent_response_list.json"
    responses = read_json(responses_file) if responses_file.is_file() else []
    out["invented_observations"] = sum(str(r).count("Observation") for r in responses)
    out["n_complain"], out["n_tangential"] = tangential_counts(folder)
    return out


def dialogue_record(folder: Path) -> dict[str, Any]:
    """Everything the analysis counts for one dialogue folder."""
    folder = Path(folder)
    passed = (folder / "pass_or_fail.txt").read_text().strip() == "PASS" if (folder / "pass_or_fail.txt").is_file() else None
    record: dict[str, Any] = {"folder": folder.name, "passed": passed}
    record["aligned"] = read_aligned(folder)
    stats_file = folder / "dialogue_stats.json"
    stats = read_json(stats_file) if stats_file.is_file() else {}
    record["n_turn"], record["n_reasoning"] = stats.get("n_turn"), stats.get("n_reasoning")
    record.update(api_misuse(folder))
    record.update(failure_categories(folder) if passed is False else {"no_book": 0, "multi_book": 0, "wrong_book": 0})
    record.update(appendix(folder))
    return record


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The experiment's analysis numbers (keys in the order the original printed them)."""
    n = len(records)

    def total(key: str) -> int:
        return sum(int(r.get(key) or 0) for r in records)

    ratios = [r["apology_turns"] / r["agent_turns"] for r in records if r.get("agent_turns")]
    complaints = [r["n_complain"] for r in records if r.get("n_complain") is not None]
    failed = [r for r in records if r.get("passed") is False]
    return {
        "dialogues": n,
        "failed": len(failed),
        "total_api_calls": total("total_api_calls"),
        "format_errors": total("format_errors"),
        "api_name_hallucinations": total("api_name_hallucinations"),
        "input_param_hallucinations_per_dialogue": total("input_param_hallucinations") / n if n else None,
        "constraint_violations": total("constraint_violations"),
        "duplicate_calls": total("duplicate_calls"),
        "duplicate_helper_calls": total("duplicate_helper_calls"),
        "helper_calls": total("helper_calls"),
        "helper_calls_per_dialogue": total("helper_calls") / n if n else None,
        "duplicate_helper_calls_per_dialogue": total("duplicate_helper_calls") / n if n else None,
        "max_duplicate_helper_calls": max((int(r.get("duplicate_helper_calls") or 0) for r in records), default=0),
        "wrong_total": total("no_book") + total("multi_book") + total("wrong_book"),
        "no_book": total("no_book"),
        "wrong_book": total("wrong_book"),
        "multi_book": total("multi_book"),
        "apology_ratio": mean_or_none(ratios),
        "apology_dialogues": len(ratios),
        "tangential_complaints_per_dialogue": mean_or_none([float(c) for c in complaints]),
        "invented_observations_per_dialogue": total("invented_observations") / n if n else None,
        "average_turn": mean_or_none([float(r["n_turn"]) for r in records if r.get("n_turn") is not None]),
        "average_reasoning": mean_or_none([float(r["n_reasoning"]) for r in records if r.get("n_reasoning") is not None]),
    }


# How the original's scripts printed each number (typos kept), for side-by-side reading.
# The paper's failure table: its counters, in order.
FAILURE_KEYS = ("failed", "no_book", "wrong_book", "multi_book", "format_errors", "api_name_hallucinations", "constraint_violations")

PARITY_LABELS = {
    "total_api_calls": "Total API call",
    "format_errors": "API format Error",
    "api_name_hallucinations": "API Hallucination Error",
    "input_param_hallucinations_per_dialogue": "Input Parameter Hallucination Error",
    "constraint_violations": "API Utilization Missing",
    "duplicate_calls": "Dulicated API Call",
    "helper_calls_per_dialogue": "Per simulation Total Helper call",
    "duplicate_helper_calls_per_dialogue": "Per simulation Duplicated Helper call",
    "max_duplicate_helper_calls": "Max duplicated helper call",
    "wrong_total": "Total wrong cnt",
    "apology_ratio": "Apology Ratio",
    "tangential_complaints_per_dialogue": "Tangential Complaints",
    "invented_observations_per_dialogue": "API Results Hallucination per dialogue simulation",
    "average_turn": "Average Turn",
    "average_reasoning": "Average Reasoning",
}
