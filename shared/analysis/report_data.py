"""What the report shows, read from a results tree: one record and one transcript per dialogue folder.

Reads only; never writes into a dialogue folder. Works on our folders and on the original's
published ones (same file names): what the original did not record (per-turn behaviour events,
goal items conveyed per turn in MultiWOZ) is derived where the files allow it and otherwise marked
as not recorded. Agent replies are parsed as text, never executed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import environment
from shared.environment import Environment
from shared.scoring import TreeScore, dialogue_folders, run_index, score_tree

MAX_TEXT = 4000  # characters of one observation kept in the page (API results can be long)
MAX_UTTERANCE = 20000
TAU_OBSERVATION = "API output: "
# MultiWOZ acknowledges every Talk with this observation; it carries nothing worth showing.
TALK_ACK = "Observation: {}"
_TAGS = re.compile(r"<[^>]+>")


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


def scenario_of(folder_name: str) -> str:
    match = re.search(r"_(\d+)$", folder_name)
    return folder_name[: match.start()] if match else folder_name


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


# --- parsing agent replies (text only, never executed) --------------------------------------


def parse_multiwoz_reply(text: str) -> dict[str, Any]:
    """`- Thought: ...\\n- Action: API call{...}` or `Action: Talk("...")`, as the protocol reads it:
    the action is the text after the last `Action:`."""
    if "Action:" not in text:
        return {"thought": "", "kind": "raw", "action": text.strip()}
    before, _, action = text.rpartition("Action:")
    # `\s*(?:-\s*)?`, not `\s*-?\s*`: the same prefixes, without quadratic backtracking on long whitespace.
    thought = re.sub(r"^\s*(?:-\s*)?Thought:\s*", "", before).rstrip().removesuffix("-").rstrip()
    action = action.strip()
    if action.startswith("Talk(") and action.endswith(")"):
        said = action[5:-1].strip()
        if len(said) >= 2 and said[0] == said[-1] and said[0] in "\"'":
            said = said[1:-1]
        return {"thought": thought, "kind": "talk", "action": said}
    if "API call" in action and not action.startswith("Talk"):
        payload = action.split("API call", 1)[1].strip()
        name = re.search(r"""['"]api_name['"]\s*:\s*['"]([^'"]+)['"]""", payload)
        return {"thought": thought, "kind": "call", "name": name.group(1) if name else None, "action": payload}
    return {"thought": thought, "kind": "raw", "action": action}


def parse_tau_reply(text: str) -> dict[str, Any]:
    """`Thought:\\n...\\nAction:\\n{"name": ..., "arguments": ...}`: the JSON after the last `Action:`."""
    if "Action:" not in text:
        return {"thought": "", "kind": "raw", "action": text.strip()}
    before, _, action = text.rpartition("Action:")
    thought = re.sub(r"^\s*Thought:\s*", "", before).strip()
    try:
        parsed = json.loads(action.strip())
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the decoder goes
        parsed = None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("name"), str):
        return {"thought": thought, "kind": "raw", "action": action.strip()}
    arguments = parsed.get("arguments")
    if parsed["name"] == "respond" and isinstance(arguments, dict) and "content" in arguments:
        return {"thought": thought, "kind": "talk", "action": str(arguments["content"])}
    return {"thought": thought, "kind": "call", "name": parsed["name"], "action": json.dumps(arguments, indent=1, ensure_ascii=False)}


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


def simulator_states(folder: Path, env: str) -> list[list[str]] | None:
    """The goal items the simulator conveyed, per user turn, from its own messages."""
    name = "user_message_list.json" if env == "multiwoz" else "dialogue_history.json"
    messages = read_json(folder / name)
    if not isinstance(messages, list):
        return None
    states = [m["dialogue_state"] for m in messages if isinstance(m, dict) and m.get("role") == "assistant" and "dialogue_state" in m]
    return [list(s) if isinstance(s, list) else [] for s in states] or None


# --- one transcript ----------------------------------------------------------------------------


def agent_chat(folder: Path, env: str) -> list[dict[str, Any]]:
    names = ("dial_hist_system_list.json",) if env == "multiwoz" else ("reasoning_trajectory.json", "dial_hist_system_list.json")
    for name in names:
        messages = read_json(folder / name)
        if isinstance(messages, list):
            return [m for m in messages if isinstance(m, dict)]
    return []


def goal_text(folder: Path, env: str) -> str:
    if env == "multiwoz":
        goal = read_json(folder / "goal_dict.json")
        message = goal.get("message") if isinstance(goal, dict) else None
        if isinstance(message, list):
            return " ".join(_TAGS.sub("", str(line)).strip().rstrip(".") + "." for line in message)
        return ""
    goal = read_json(folder / "goal_list.json")
    if isinstance(goal, dict) and goal.get("instruction"):
        return str(goal["instruction"]).strip()
    grade = read_json(folder / "eval_result.json")
    task = ((grade or {}).get("info") or {}).get("task") if isinstance(grade, dict) else None
    return str(task.get("instruction", "")).strip() if isinstance(task, dict) else ""


def build_transcript(folder: Path, env: str, prompts: dict[str, str]) -> tuple[dict[str, Any], int, list[str], bool]:
    """(transcript, user turns, event kinds, events recorded) of one dialogue folder."""
    recorded = recorded_turns(folder)
    derived = {} if recorded is not None else derived_events(folder)
    states = simulator_states(folder, env)
    steps: list[dict[str, Any]] = []
    turn = 0
    kinds: list[str] = []
    parse = parse_multiwoz_reply if env == "multiwoz" else parse_tau_reply
    for position, message in enumerate(agent_chat(folder, env)):
        role, text = message.get("role"), str(message.get("content") or "")
        if role == "system" and position == 0:
            key = hashlib.sha256(text.encode()).hexdigest()[:12]
            prompts.setdefault(key, text)
            steps.append({"type": "prompt", "key": key})
        elif role == "assistant":
            steps.append({"type": "agent", **parse(text)})
        elif (env == "multiwoz" and role == "system") or (env == "tau" and role == "user" and text.startswith(TAU_OBSERVATION)):
            if text.strip() == TALK_ACK:
                continue
            steps.append({"type": "observation", "text": clip(text, MAX_TEXT)})
        elif role == "user":
            # MultiWOZ shows user turns to the agent with one leading space.
            said = text[1:] if env == "multiwoz" and text.startswith(" ") else text
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
        "goal": goal_text(folder, env),
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


def grade_summary(env_name: str, grade: dict[str, Any]) -> dict[str, Any]:
    """What the transcript header shows of the grade (Tau's eval_result holds the whole task)."""
    if env_name == "multiwoz":
        return {"domains": {k: bool(v.get("book", True)) if isinstance(v, dict) else v for k, v in grade.items()}}
    reward_info = ((grade.get("info") or {}).get("reward_info") or {}) if isinstance(grade.get("info"), dict) else {}
    info = reward_info.get("info") if isinstance(reward_info, dict) else None
    return {"reward": grade.get("reward"), "reward_info": info if isinstance(info, dict) else None}


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
        transcript, turns, kinds, recorded = build_transcript(folder, env_name, data.prompts)
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
            aligned=aligned,
            turns=turns,
            cost=usage["cost"] if usage else None,
            event_kinds=kinds,
            events_recorded=recorded,
            error=error,
        )
        transcript["grade"] = grade_summary(env_name, grade) if grade is not None else None
        data.dialogues.append(dialogue)
        data.transcripts[dialogue.id] = transcript
    return data
