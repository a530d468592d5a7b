"""Error analysis and appendix metrics of one Tau dialogue folder (the original's analysis_error.py, analysis_mistake.py, ...).

Read-only. Predicted calls are the JSON after the agent's last `Action:` (as the agent parsed
it; the original analysis split on `Action:\\n` and ran `eval`), with a literal fallback for
Python-style dicts, never executed. `summarize` gives the failure categories over the failed,
non-errored, non-transferred dialogues and the API-misuse means, without dividing by zero.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path
from typing import Any

from shared.analysis.counters import mean_or_none, tangential_counts
from shared.apology import is_apology
from shared.files import read_json
from shared.scoring import read_aligned
from tau_env import tasks as task_data
from tau_env.environment import API_OUTPUT, TRAJECTORY_FILES, parse_folder_name, tool_schemas
from tau_env.reward import RESPOND

WRITE_APIS = {
    "retail": (
        "cancel_pending_order",
        "exchange_delivered_order_items",
        "modify_pending_order_address",
        "modify_pending_order_items",
        "modify_pending_order_payment",
        "modify_user_address",
        "return_delivered_order_items",
    ),
    "airline": (
        "book_reservation",
        "cancel_reservation",
        "send_certificate",
        "update_reservation_baggages",
        "update_reservation_flights",
        "update_reservation_passengers",
    ),
}
ALL_WRITE_APIS = frozenset(WRITE_APIS["retail"] + WRITE_APIS["airline"])
TRANSFER_OUTPUT = API_OUTPUT + "Transfer successful"


def predicted_calls(trajectory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agent's tool calls `{"name", "arguments"}` (responds and unparsable actions left out)."""
    calls = []
    for message in trajectory:
        if message.get("role") != "assistant":
            continue
        text = str(message.get("content", "")).split("Action:")[-1].strip()
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
        try:
            named = isinstance(value, dict) and bool(value.get("name")) and value["name"] != RESPOND
            name = str(value["name"]) if named else ""
        except ValueError:  # a literal name holding an int too long for str(): not a tool call
            continue
        if named:
            arguments = value.get("arguments")
            calls.append({"name": name, "arguments": arguments if isinstance(arguments, dict) else {}})
    return calls


def _call_key(call: dict[str, Any]) -> str:
    """A call's identity for the repeat count: name and arguments with sorted keys. Python-literal
    arguments (the fallback above) can hold what JSON cannot (sets, bytes, int keys beside str
    ones, ints too long for str()); those are keyed by their repr, sorted by the keys' reprs."""
    try:
        return call["name"] + ":" + json.dumps(call["arguments"], sort_keys=True)
    except (TypeError, ValueError):
        try:
            return call["name"] + ":" + repr(sorted(call["arguments"].items(), key=lambda item: repr(item[0])))
        except ValueError:
            return call["name"] + ":<arguments too large to show>"


def _extra_keys(schema: dict[str, Any], arguments: dict[str, Any]) -> bool:
    """An argument key the schema does not define (nested objects checked too)."""
    properties = schema.get("properties", {})
    for key, value in arguments.items():
        if key not in properties:
            return True
        if isinstance(value, dict) and properties[key].get("type") == "object" and _extra_keys(properties[key], value):
            return True
    return False


_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "number": (int, float), "integer": int, "boolean": bool, "array": list}


def _bad_value(schema: dict[str, Any], value: Any) -> bool:
    """analysis_mistake.py's validate_value: enum and type, array items recursively; an object (a
    property's, or an array item's) is not looked into here."""
    if "enum" in schema and value not in schema["enum"]:
        return True
    kind = schema.get("type")
    if kind in _TYPES and not isinstance(value, _TYPES[kind]):
        return True
    if kind == "array" and isinstance(value, list) and "items" in schema:
        return any(_bad_value(schema["items"], item) for item in value)
    return False


def _type_violation(schema: dict[str, Any], arguments: dict[str, Any]) -> bool:
    """check_object: each present property, an object-typed one checked property by property."""
    for key, prop in schema.get("properties", {}).items():
        if key not in arguments:
            continue
        if prop.get("type") == "object":
            if isinstance(arguments[key], dict) and _type_violation(prop, arguments[key]):
                return True
        elif _bad_value(prop, arguments[key]):
            return True
    return False


def api_misuse(domain: str, calls: list[dict[str, Any]]) -> dict[str, int]:
    """analysis_mistake.py per dialogue: calls, unknown names, extra keys, type/enum errors, repeats."""
    schemas = {s["function"]["name"]: s["function"]["parameters"] for s in tool_schemas(domain, include_transfer=True)}
    counts = {"total_api_calls": len(calls), "api_name_hallucinations": 0, "input_param_hallucinations": 0, "type_errors": 0}
    for call in calls:
        schema = schemas.get(call["name"])
        if schema is None:
            counts["api_name_hallucinations"] += 1
        elif _extra_keys(schema, call["arguments"]):
            counts["input_param_hallucinations"] += 1
        elif _type_violation(schema, call["arguments"]):
            counts["type_errors"] += 1
    deep = [_call_key(call) for call in calls]
    counts["duplicate_calls"] = len(deep) - len(set(deep))
    return counts


def failure_flags(domain: str, task_index: int, calls: list[dict[str, Any]]) -> dict[str, bool]:
    """analysis_error.py's failure steps for one dialogue (meaningful for failed dialogues)."""
    writes = ALL_WRITE_APIS  # analysis_error.py checks one list of both domains' write APIs
    gt = [{"name": a["name"], "arguments": a["kwargs"]} for a in task_data.tasks(domain)[task_index].actions if a["name"] in writes]
    gt_names, predicted_names = Counter(c["name"] for c in gt), Counter(c["name"] for c in calls)
    correct = sum(1 for name, count in gt_names.items() if predicted_names.get(name) == count)
    no_gt_api = (correct > 0 and correct != len(gt_names)) or (correct == 0 and bool(gt))
    parameter_error = any(call["name"] in gt_names and call not in [g for g in gt if g["name"] == call["name"]] for call in calls)
    invalid_write = any(call["name"] in writes and call["name"] not in gt_names for call in calls)
    return {"no_gt_api": no_gt_api, "gt_api_parameter_error": parameter_error, "invalid_write_api": invalid_write}


def _shallow_duplicates(calls: list[dict[str, Any]]) -> int:
    signatures = Counter((c["name"], _shallow_key(c["arguments"])) for c in calls)
    return sum(count - 1 for count in signatures.values() if count > 1)


def _shallow_key(arguments: dict[str, Any]) -> str:
    """`str(sorted(arguments.items()))`; keys of mixed types (Python-literal actions) sort by repr."""
    try:
        try:
            return str(sorted(arguments.items()))
        except TypeError:
            return str(sorted(arguments.items(), key=lambda item: repr(item[0])))
    except ValueError:  # an int too long for str()
        return "<arguments too large to show>"


def _read_list(folder: Path, names: tuple[str, ...]) -> list[dict[str, Any]]:
    for name in names:
        if (folder / name).is_file():
            value = read_json(folder / name)
            return value if isinstance(value, list) else []
    return []


def appendix(folder: Path, trajectory: list[dict[str, Any]]) -> dict[str, Any]:
    """Apology turns (the simulator's view, the fixed greeting not counted), tangential complaints,
    and the agent imitating tool output (additional_analysis.py)."""
    out: dict[str, Any] = {}
    history = _read_list(folder, ("dialogue_history.json",))
    agent_turns = [str(m.get("content", "")) for m in history[2:-1] if m.get("role") == "user"]
    out["agent_turns"] = len(agent_turns)
    out["apology_turns"] = sum(is_apology(turn) for turn in agent_turns)
    out["invented_observations"] = sum(str(m.get("content", "")).count("API output:") for m in trajectory if m.get("role") == "assistant")
    out["n_complain"], out["n_tangential"] = tangential_counts(folder)
    return out


def dialogue_record(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    domain, task_index, trial = parse_folder_name(folder.name)
    grade = read_json(folder / "eval_result.json")
    trajectory = _read_list(folder, TRAJECTORY_FILES)
    calls = predicted_calls(trajectory)
    record: dict[str, Any] = {"folder": folder.name, "domain": domain, "task": task_index, "trial": trial}
    record["reward"] = float(grade.get("reward", 0.0))
    record["passed"] = record["reward"] == 1.0
    info = grade.get("info") or {}
    record["errored"] = "error" in info
    record["ungradable"] = bool(info.get("traceback")) and "AssertionError" not in str(info.get("traceback"))
    record["transferred"] = bool(trajectory) and trajectory[-1].get("content") == TRANSFER_OUTPUT
    record["aligned"] = read_aligned(folder)
    record["n_reasoning"] = sum(1 for m in trajectory if m.get("role") == "assistant")
    record.update(failure_flags(domain, task_index, calls))
    record["shallow_duplicates"] = _shallow_duplicates(calls)
    record.update(api_misuse(domain, calls))
    record.update(appendix(folder, trajectory))
    return record


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The original's Tau analyses over an experiment's dialogues: failures F0 (reward 0), parse errors among
    them, F = the rest minus human transfers (the original dropped those silently; counted here)."""
    n = len(records)
    failed = [r for r in records if r["reward"] == 0]
    parse_errors = [r for r in failed if r["errored"]]
    transfers = [r for r in failed if not r["errored"] and r["transferred"]]
    rest = [r for r in failed if not r["errored"] and not r["transferred"]]

    def share(key: str) -> float | None:
        return sum(r[key] for r in rest) / len(rest) if rest else None

    categories = {key: sum(bool(r[key]) for r in rest) for key in ("no_gt_api", "gt_api_parameter_error", "invalid_write_api")}
    ratios = [r["apology_turns"] / r["agent_turns"] for r in records if r.get("agent_turns")]
    complaints = [float(r["n_complain"]) for r in records if r.get("n_complain") is not None]

    def per_dialogue(key: str) -> float | None:
        return sum(r[key] for r in records) / n if n else None

    return {
        "dialogues": n,
        "failed": len(failed),
        "parse_errors": len(parse_errors),
        "human_transfers": len(transfers),
        "analysed_failures": len(rest),
        **categories,
        **{f"{key}_ratio": share(key) for key in categories},
        "misbehaviour_total": len(parse_errors) + sum(categories.values()),
        "misbehaviour_per_failure": (len(parse_errors) + sum(categories.values())) / len(rest) if rest else None,
        "unexplained_failures": sum(1 for r in rest if not any(r[key] for key in categories)),
        "shallow_duplicates": sum(r["shallow_duplicates"] for r in records),
        "total_api_calls": sum(r["total_api_calls"] for r in records),
        "api_name_hallucinations": sum(r["api_name_hallucinations"] for r in records),
        "input_param_hallucinations_per_dialogue": per_dialogue("input_param_hallucinations"),
        "type_errors_per_dialogue": per_dialogue("type_errors"),
        "duplicate_calls_per_dialogue": per_dialogue("duplicate_calls"),
        "apology_ratio": mean_or_none(ratios),
        "apology_dialogues": len(ratios),
        "tangential_complaints_per_dialogue": mean_or_none(complaints),
        "invented_observations_per_dialogue": per_dialogue("invented_observations"),
        "average_reasoning": mean_or_none([float(r["n_reasoning"]) for r in records]),
    }


# The paper's failure table: its counters, in order.
FAILURE_KEYS = (
    "failed",
    "parse_errors",
    "human_transfers",
    "no_gt_api",
    "gt_api_parameter_error",
    "invalid_write_api",
    "unexplained_failures",
)

PARITY_LABELS = {
    "parse_errors": "Parse Error",
    "no_gt_api": "No GT API Error",
    "gt_api_parameter_error": "GT and predict parameter error",
    "invalid_write_api": "Invalid write api error",
    "failed": "Total Error",
    "misbehaviour_total": "Total misbehavior cnt",
    "misbehaviour_per_failure": "Misbehavior per simulation",
    "shallow_duplicates": "Total duplicate API calls",
    "total_api_calls": "Total API call",
    "input_param_hallucinations_per_dialogue": "Input parameter hallucination error",
    "type_errors_per_dialogue": "Input parameter type error",
    "duplicate_calls_per_dialogue": "Duplicate call count",
    "apology_ratio": "Apology Ratio",
    "tangential_complaints_per_dialogue": "Tangential Complaints",
    "invented_observations_per_dialogue": "API Results Hallucination per dialogue simulation",
    "average_reasoning": "Average Reasoning",
}
