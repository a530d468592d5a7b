"""A checker for finished MultiWOZ runs: every dialogue folder complete and internally consistent.

`check_dialogue(folder, env, entries, max_attempts)` returns the problems of one folder (an empty
list when it is sound); `check_run(root, ...)` checks every dialogue folder under a results tree
against its experiment's `regeneration_log.json`. What is checked:

- complete: every file a finished dialogue has (`EXPECTED_FILES`), each JSON file readable, no
  `failure.json`, no temporary file left by an interrupted atomic write;
- the transcript: `dial_hist_user.txt` is exactly the simulator's own conversation
  (`user_message_list.json`), the judge's `dial_hist` is the same turns, the agent's chat
  (`dial_hist_system_list.json`) carries the same user turns and the replies of
  `agent_response_list.json`, and `user_turn_events.json` has one entry per user turn;
- the counters: `dialogue_stats.json`'s `n_turn` and `n_reasoning` and `ended_by` match the turns;
- the grade: `grading_result.json` equals a grade recomputed from the folder, `pass_or_fail.txt`
  says the same;
- the alignment: the judge's verdict matches its unmatched items, which are goal items of
  `dialogue_state_list.json`, whose remaining/used lists partition the initial items;
- simulated once: the log's completed attempts are 1..k, each once, none after an aligned one
  (except a redo of a folder whose files were damaged), k at most the attempt budget; the last is
  the folder's (`run_meta.json` attempt and seed) and
  agrees with the folder's verdicts; `usage.json` counts the dialogue's calls.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shared.environment import Environment
from shared.goal_alignment import render_turn

EXPECTED_FILES = (
    "run_meta.json",
    "usage.json",
    "goal_dict.json",
    "domains.json",
    "model_name.json",
    "api_call_log.json",
    "read_docs_log.json",
    "db",
    "reservation",
    "non_coll_config.json",
    "persona.txt",
    "base_prompt.txt",
    "dial_hist_user.txt",
    "dial_hist_system_list.json",
    "dial_hist_system.txt",
    "agent_response_list.json",
    "dialogue_stats.json",
    "dialogue_state_list.json",
    "tangential_config.json",
    "tangential_respond_result_list.json",
    "user_message_list.json",
    "user_turn_events.json",
    "goal_align_result.json",
    "grading_result.json",
    "pass_or_fail.txt",
)


def _load(folder: Path, name: str, problems: list[str]) -> Any:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{name} unreadable: {exc}")
        return None


def user_turns(messages: list[dict[str, Any]], agent_prefix: str) -> list[tuple[str, str]]:
    """(user|agent, text) from the simulator's chat: its own turns are `assistant` messages."""
    turns = []
    for message in messages[2:]:  # the system prompt and the agent's greeting come first
        if message["role"] == "assistant":
            turns.append(("user", str(message["content"])))
        else:
            turns.append(("agent", str(message["content"]).removeprefix(agent_prefix)))
    return turns


def check_dialogue(folder: Path, env: Environment, entries: list[dict[str, Any]], max_attempts: int) -> list[str]:
    """Every way `folder` falls short of a finished, consistent, once-simulated dialogue."""
    problems: list[str] = []
    missing = [name for name in EXPECTED_FILES if not (folder / name).exists()]
    if missing:
        return [f"missing {', '.join(missing)}"]
    if (folder / "failure.json").exists():
        problems.append("failure.json beside a complete dialogue")
    leftovers = [p.name for p in folder.rglob("*.tmp")]
    if leftovers:
        problems.append(f"temporary files left: {leftovers}")
    for path in folder.rglob("*.json"):
        _load(path.parent, path.name, problems)
    profile = env.user_profile
    messages = _load(folder, "user_message_list.json", problems)
    stats = _load(folder, "dialogue_stats.json", problems)
    alignment = _load(folder, "goal_align_result.json", problems)
    state = _load(folder, "dialogue_state_list.json", problems)
    agent_chat = _load(folder, "dial_hist_system_list.json", problems)
    responses = _load(folder, "agent_response_list.json", problems)
    events = _load(folder, "user_turn_events.json", problems)
    meta = _load(folder, "run_meta.json", problems)
    usage = _load(folder, "usage.json", problems)
    if problems:
        return problems

    # The transcript, as each party saw it.
    turns = user_turns(messages, profile.agent_prefix)
    said = [text for role, text in turns if role == "user"]
    expected = "".join(
        (profile.transcript_user if role == "user" else profile.transcript_agent).format(text=text) + "\n" for role, text in turns
    )
    if (folder / "dial_hist_user.txt").read_text(encoding="utf-8") != expected:
        problems.append("dial_hist_user.txt differs from the simulator's messages")
    if alignment.get("dial_hist") != "".join("# " + render_turn(role, text) for role, text in turns):
        problems.append("the judge's dial_hist differs from the simulator's messages")
    if alignment.get("dial_idx") != folder.name:
        problems.append(f"goal_align_result.json is for {alignment.get('dial_idx')!r}")
    to_agent = [m["content"] for m in agent_chat[1:] if m["role"] == "user"]
    if to_agent != [profile.user_to_agent.format(text=text) for text in said]:
        problems.append("the agent's chat carries other user turns than the simulator said")
    if [m["content"] for m in agent_chat[1:] if m["role"] == "assistant"] != responses:
        problems.append("agent_response_list.json differs from the agent's chat")
    conveyed = [m.get("dialogue_state") for m in messages if m["role"] == "assistant"]
    if len(events) != len(said) or [e.get("conveyed") for e in events] != conveyed:
        problems.append("user_turn_events.json does not follow the user turns")

    # The counters.
    ended_by = stats.get("ended_by")
    if ended_by == "stop" and (not said or profile.stop_token not in said[-1]):
        problems.append("ended_by stop without the stop token in the last user turn")
    if ended_by not in ("stop", "budget"):
        problems.append(f"ended_by is {ended_by!r}")
    if turns and turns[-1][0] != "user":
        problems.append("the transcript does not end with a user turn")
    if stats.get("n_turn") != len(turns) + (1 if ended_by == "budget" else 0):
        problems.append(f"n_turn {stats.get('n_turn')} for {len(turns)} turns ending by {ended_by}")
    if stats.get("n_reasoning") != len(responses):
        problems.append(f"n_reasoning {stats.get('n_reasoning')} for {len(responses)} agent replies")

    # The grade.
    grade = env.read_grade(folder)
    if env.grade(folder, write=False) != grade:
        problems.append("grading_result.json differs from a recomputed grade")
    passed, _ = env.outcome(grade)
    verdict = (folder / "pass_or_fail.txt").read_text(encoding="utf-8").strip()
    if verdict != ("PASS" if passed else "FAIL"):
        problems.append(f"pass_or_fail.txt says {verdict} for {grade}")

    # The alignment and the simulator's state.
    initial = state.get("initial_dialogue_state_list", [])
    remaining = state.get("remaining_dialogue_state_list", [])
    used = state.get("used_dialogue_state_list", [])
    unmatched = alignment.get("dialogue_state")
    if not isinstance(unmatched, list) or alignment.get("result") is not (not unmatched):
        problems.append(f"judge verdict {alignment.get('result')} with unmatched items {unmatched}")
    elif not set(unmatched) <= set(initial):
        problems.append("the judge's unmatched items are not goal items")
    if "judge_error" in alignment:
        problems.append(f"the judge failed: {alignment['judge_error']}")
    if set(remaining) & set(used) or set(remaining) | set(used) != set(initial):
        problems.append("remaining and used items do not partition the initial goal items")

    # Simulated once: the regeneration log against the folder.
    completed = [e for e in entries if e.get("aligned") is not None]
    attempts = [e.get("attempt") for e in completed]
    if attempts != list(range(1, len(completed) + 1)):
        problems.append(f"completed attempts {attempts}: an attempt simulated twice or skipped")
    elif len(regular := [e for e in completed if not e.get("redo_of_damaged")]) > max_attempts:
        problems.append(f"{len(regular)} completed attempts for a budget of {max_attempts}")
    elif any(e["aligned"] and not after.get("redo_of_damaged") for e, after in zip(completed, completed[1:], strict=False)):
        problems.append("regenerated after an aligned attempt")
    else:
        last = completed[-1]
        if (last.get("attempt"), last.get("seed")) != (meta.get("attempt"), meta.get("seed")):
            problems.append(f"run_meta.json is attempt {meta.get('attempt')}, the log's last {last.get('attempt')}")
        if last.get("aligned") != alignment.get("result") or last.get("passed") != passed:
            problems.append("the log's verdicts differ from the folder's")
        if "error" in last:
            problems.append(f"the completed attempt has an error: {last['error']}")
    if not isinstance(usage.get("total"), dict) or usage["total"].get("calls", 0) < len(said) + len(responses):
        problems.append("usage.json counts fewer calls than the dialogue made")
    return problems


def dialogue_folders(root: Path) -> list[Path]:
    """Every dialogue folder under `root` (a folder with `run_meta.json`)."""
    return sorted(p.parent for p in root.rglob("run_meta.json"))


def check_run(root: Path, env: Environment, max_attempts: int) -> dict[str, list[str]]:
    """Problems per dialogue folder (relative path) under a results tree; only unsound ones are listed."""
    out: dict[str, list[str]] = {}
    logs: dict[Path, dict[str, list[dict[str, Any]]]] = {}
    for folder in dialogue_folders(root):
        experiment = folder.parent
        if experiment not in logs:
            try:
                logs[experiment] = json.loads((experiment / "regeneration_log.json").read_text())
            except (OSError, ValueError):
                logs[experiment] = {}
        problems = check_dialogue(folder, env, logs[experiment].get(folder.name, []), max_attempts)
        if problems:
            out[str(folder.relative_to(root))] = problems
    return out


def fingerprint(folders: Iterable[Path]) -> dict[str, tuple[int, str]]:
    """(mtime_ns, SHA-256) of every file under the folders: equal before and after means untouched."""
    out = {}
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out[str(path)] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out
