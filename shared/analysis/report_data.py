"""What the report shows, read from a results tree: one record and one transcript per dialogue folder.

Reads only; never writes into a dialogue folder. Works on our folders and on the original's
published ones (same file names): what the original did not record (per-turn behaviour events,
goal items conveyed per turn in MultiWOZ) is derived where the files allow it and otherwise marked
as not recorded. Agent replies are parsed as text, never executed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import environment
from shared.environment import Environment, TranscriptFormat
from shared.scoring import TreeScore, dialogue_folders, run_index, scenario_of, score_tree

MAX_TEXT = 4000  # characters of one observation kept in the page (API results can be long)
MAX_UTTERANCE = 20000


@dataclass
class Dialogue:
    """One dialogue folder: the row of the viewer's table."""

    id: int
    env: str
    folder: Path
    source: str  # path between the tree's root and <ours|pbus>: "multiwoz", "multiwoz/train", "experiment_result"
    kind: str  # ours | pbus
    model: str
    behaviour: str
    scenario: str
    run: int | None
    graded: bool
    passed: bool | None
    score: float | None  # MultiWOZ: share of domains booked; Tau: the reward
    outcome: str  # how the report's table shows a graded outcome (the environment's words), or ""
    aligned: bool | None
    turns: int
    cost: float | None
    event_kinds: list[str]
    events_recorded: bool
    error: str | None = None

    @property
    def experiment(self) -> Path:
        return self.folder.parent

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "env": self.env,
            "tree": "/".join(p for p in (self.source, self.kind) if p),
            "model": self.model,
            "behaviour": self.behaviour,
            "scenario": self.scenario,
            "run": self.run,
            "graded": self.graded,
            "passed": self.passed,
            "score": self.score,
            "outcome": self.outcome,
            "aligned": self.aligned,
            "turns": self.turns,
            "cost": self.cost,
            "events": self.event_kinds,
            "events_recorded": self.events_recorded,
            "error": self.error,
            "folder": str(self.folder),
        }


@dataclass
class ReportData:
    root: Path
    dialogues: list[Dialogue] = field(default_factory=list)
    transcripts: dict[int, dict[str, Any]] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)  # system prompts, stored once by hash
    scores: dict[str, TreeScore] = field(default_factory=dict)  # per environment
    envs: dict[str, Environment] = field(default_factory=dict)

    @property
    def failures(self) -> list[tuple[Path, str]]:
        return [failure for tree in self.scores.values() for failure in tree.failures]


# --- finding and labelling folders ---------------------------------------------------------


def find_dialogues(root: Path, envs: dict[str, Environment]) -> list[tuple[str, Path]]:
    """Every dialogue folder under `root` with its environment: each folder is tried with every
    environment's `is_dialogue_folder`, and a dialogue folder is not searched further."""

    def env_of(folder: Path) -> str | None:
        return next((name for name, env in envs.items() if env.is_dialogue_folder(folder)), None)

    return [(str(env_of(folder)), folder) for folder in dialogue_folders(root, lambda f: env_of(f) is not None)]


def labels(root: Path, folder: Path) -> tuple[str, str, str, str]:
    """(source, kind, model, behaviour) from `.../<source>/<kind>/<model>/<behaviour>/<folder>`."""
    experiment = folder.parent
    behaviour, model, kind = experiment.name, experiment.parent.name, experiment.parent.parent.name
    above = experiment.parent.parent.parent
    try:
        source = above.relative_to(root).as_posix()
    except ValueError:  # the tree's root is below <source>: nothing to show
        source = ""
    return ("" if source == "." else source), kind, model, behaviour


# --- small readers ---------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters not shown)"


def usage_of(folder: Path) -> dict[str, Any] | None:
    usage = read_json(folder / "usage.json")
    if not isinstance(usage, dict) or not isinstance(usage.get("total"), dict):
        return None
    total = usage["total"]
    return {
        "cost": float(total.get("cost_usd") or 0.0),
        "tokens": int(total.get("prompt_tokens") or 0) + int(total.get("completion_tokens") or 0),
        "calls": int(total.get("calls") or 0),
        "unpriced_calls": int(total.get("unpriced_calls") or 0),
        "by_role": {role: round(float(v.get("cost_usd") or 0.0), 6) for role, v in (usage.get("by_role") or {}).items()},
    }


# --- per-turn behaviour events and conveyed items ----------------------------------------------


def recorded_turns(folder: Path) -> list[dict[str, Any]] | None:
    turns = read_json(folder / "user_turn_events.json")
    return turns if isinstance(turns, list) else None


def derived_events(folder: Path) -> dict[int, list[dict[str, Any]]]:
    """The original's folders have no per-turn events: tangents (and the complaint that follows an
    ignored one) can be placed from `tangential_config.json`, whose `turn_idx` is 2 x the user turn."""
    config = read_json(folder / "tangential_config.json")
    out: dict[int, list[dict[str, Any]]] = {}
    pairs = config.get("utterance_pair") if isinstance(config, dict) else None
    for pair in pairs if isinstance(pairs, list) else []:
        if not isinstance(pair, dict) or not isinstance(pair.get("turn_idx"), int):
            continue
        turn = pair["turn_idx"] // 2
        out.setdefault(turn, []).append({"event": "tangent", "derived": True})
        if pair.get("complain") is True:
            out.setdefault(turn + 1, []).append({"event": "complaint", "derived": True})
    return out


def simulator_states(folder: Path, fmt: TranscriptFormat) -> list[list[str]] | None:
    """The goal items the simulator conveyed, per user turn, from its own messages."""
    messages = read_json(folder / fmt.simulator_messages_file)
    if not isinstance(messages, list):
        return None
    states = [m["dialogue_state"] for m in messages if isinstance(m, dict) and m.get("role") == "assistant" and "dialogue_state" in m]
    return [list(s) if isinstance(s, list) else [] for s in states] or None


# --- one transcript ----------------------------------------------------------------------------


def agent_chat(folder: Path, fmt: TranscriptFormat) -> list[dict[str, Any]]:
    for name in fmt.agent_chat_files:
        messages = read_json(folder / name)
        if isinstance(messages, list):
            return [m for m in messages if isinstance(m, dict)]
    return []


def build_transcript(folder: Path, env: Environment, prompts: dict[str, str]) -> tuple[dict[str, Any], int, list[str], bool]:
    """(transcript, user turns, event kinds, events recorded) of one dialogue folder."""
    fmt = env.transcript_format
    recorded = recorded_turns(folder)
    derived = {} if recorded is not None else derived_events(folder)
    states = simulator_states(folder, fmt)
    steps: list[dict[str, Any]] = []
    turn = 0
    kinds: list[str] = []
    for position, message in enumerate(agent_chat(folder, fmt)):
        role, text = message.get("role"), str(message.get("content") or "")
        if role == "system" and position == 0:
            key = hashlib.sha256(text.encode()).hexdigest()[:12]
            prompts.setdefault(key, text)
            steps.append({"type": "prompt", "key": key})
        elif role == "assistant" and isinstance(message.get("tool_calls"), list):  # a tool-calling agent's step
            if text:
                steps.append({"type": "agent", "thought": "", "kind": "talk", "action": clip(text, MAX_TEXT)})
            for call in message["tool_calls"]:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    arguments = clip(str(function.get("arguments", "")), MAX_TEXT)
                    steps.append(
                        {"type": "agent", "thought": "", "kind": "call", "action": arguments, "name": str(function.get("name", ""))}
                    )
        elif role == "assistant":
            steps.append({"type": "agent", **fmt.parse_reply(text)})
        elif role == "tool":
            steps.append({"type": "observation", "text": clip(text, MAX_TEXT)})
        elif fmt.is_observation(str(role), text):
            if text.strip() in fmt.hidden_observations:
                continue
            steps.append({"type": "observation", "text": clip(text, MAX_TEXT)})
        elif role == "user":
            said = fmt.user_as_said(text)
            if recorded is not None:
                entry = next((t for t in recorded if isinstance(t, dict) and t.get("turn") == turn), {})
                events = [e for e in entry.get("events", []) if isinstance(e, dict)]
                conveyed = entry.get("conveyed") if isinstance(entry.get("conveyed"), list) else None
            else:
                events = derived.get(turn, [])
                conveyed = None
            if conveyed is None and states is not None and turn < len(states):
                conveyed = states[turn]
            kinds += [str(e.get("event")) for e in events if str(e.get("event")) not in kinds]
            steps.append({"type": "user", "turn": turn, "text": clip(said, MAX_UTTERANCE), "events": events, "conveyed": conveyed})
            turn += 1
        else:
            steps.append({"type": "other", "role": str(role), "text": clip(text, MAX_TEXT)})
    alignment = read_json(folder / "goal_align_result.json")
    alignment = alignment if isinstance(alignment, dict) else {}
    state = read_json(folder / "dialogue_state_list.json")
    state = state if isinstance(state, dict) else {}
    config = read_json(folder / "non_coll_config.json")
    transcript = {
        "goal": fmt.goal_text(folder),
        "items": state.get("initial_dialogue_state_list") or [],
        "unmatched": alignment.get("dialogue_state") if isinstance(alignment.get("dialogue_state"), list) else None,
        "judge_error": alignment.get("judge_error"),
        "config": {k: v for k, v in config.items() if isinstance(v, bool)} if isinstance(config, dict) else {},
        "events_recorded": recorded is not None,
        "conveyed_recorded": recorded is not None or states is not None,
        "stats": read_json(folder / "dialogue_stats.json"),
        "meta": read_json(folder / "run_meta.json"),
        "usage": usage_of(folder),
        "steps": steps,
    }
    return transcript, turn, kinds, recorded is not None


def grade_detail(env: Environment, folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return env.read_grade(folder), None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


# --- the whole tree ---------------------------------------------------------------------------


def collect(root: Path) -> ReportData:
    """Records, transcripts and score blocks of every dialogue folder under `root`."""
    root = Path(root)
    envs = {name: environment.get(name) for name in environment.names()}
    data = ReportData(root=root)
    found = find_dialogues(root, envs) if root.is_dir() else []
    used = sorted({name for name, _ in found})
    data.envs = {name: envs[name] for name in used}
    data.scores = {name: score_tree(envs[name], root, regrade=False) for name in used}
    for env_name, folder in found:
        env = envs[env_name]
        source, kind, model, behaviour = labels(root, folder)
        grade, error = grade_detail(env, folder)
        passed = score = None
        if grade is not None:
            try:
                passed, score = env.outcome(grade)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                grade, error = None, f"{type(exc).__name__}: {exc}"
        transcript, turns, kinds, recorded = build_transcript(folder, env, data.prompts)
        usage = transcript["usage"]
        alignment = read_json(folder / "goal_align_result.json")
        aligned = bool(alignment["result"]) if isinstance(alignment, dict) and "result" in alignment else None
        dialogue = Dialogue(
            id=len(data.dialogues),
            env=env_name,
            folder=folder,
            source=source,
            kind=kind,
            model=model,
            behaviour=behaviour,
            scenario=scenario_of(folder.name),
            run=run_index(folder.name),
            graded=grade is not None,
            passed=passed,
            score=score,
            outcome=env.transcript_format.outcome_text(bool(passed), score) if grade is not None else "",
            aligned=aligned,
            turns=turns,
            cost=usage["cost"] if usage else None,
            event_kinds=kinds,
            events_recorded=recorded,
            error=error,
        )
        transcript["grade"] = env.transcript_format.grade_summary(grade) if grade is not None else None
        data.dialogues.append(dialogue)
        data.transcripts[dialogue.id] = transcript
    return data
