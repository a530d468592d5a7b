"""Tau-Bench v1 behind the `Environment` seam: tasks, ChatReAct agent protocol, tools, reward.

The agent sees the domain policy (wiki), the tool schemas (transfer hidden, as in the paper) and
a ReAct instruction; each reply is one action, `{"name": ..., "arguments": {...}}` after
`Action:`. `respond` talks to the user; any other name runs a tool and the agent reads
`API output: <observation>`; the hidden transfer tool ends the dialogue. 30 steps in all.
Grading replays the dialogue's recorded actions on a pristine DB (tools are deterministic) and
applies v1's reward, so a folder can be re-graded from its own files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from shared.environment import ActResult, Scenario, UserProfile
from shared.errors import ConfigError
from shared.files import read_json, write_json_atomic
from tau_env import tasks as task_data
from tau_env.db import load_db
from tau_env.env import TERMINAL_TOOLS, ToolOutputError, call_tool
from tau_env.resources import DOMAINS, ROOT, read_bytes
from tau_env.reward import RESPOND, reward_result

PROMPTS = Path(__file__).with_name("prompts")
GREETING = "Hi! How can I help you today?"
STOP_TOKEN = "###STOP###"
MAX_STEPS = 30
ACTIONS_FILE = "actions.json"
GRADE_FILE = "eval_result.json"


@cache
def tool_schemas(domain: str, include_transfer: bool = False) -> tuple[dict[str, Any], ...]:
    schemas = json.loads(read_bytes(f"{ROOT}/{domain}_api_documentation_list.json"))
    return tuple(s for s in schemas if include_transfer or s["function"]["name"] not in TERMINAL_TOOLS)


@cache
def wiki(domain: str) -> str:
    return read_bytes(f"{ROOT}/tau_bench/envs/{domain}/wiki.md").decode("utf-8")


def parse_action(reply: str) -> tuple[str, dict[str, Any]]:
    """v1's ChatReAct parsing: the JSON after the last `Action:`; anything unparsable is a respond
    with that text (v1 also asserted on JSON without name/arguments; here that is a respond too)."""
    text = reply.split("Action:")[-1].strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return RESPOND, {"content": text}
    if not isinstance(parsed, dict) or "name" not in parsed or "arguments" not in parsed or not isinstance(parsed["arguments"], dict):
        return RESPOND, {"content": text}
    return str(parsed["name"]), parsed["arguments"]


@dataclass
class TauEpisode:
    scenario: Scenario
    folder: Path
    domain: str
    task_index: int
    db: dict[str, Any]
    actions: list[dict[str, Any]] = field(default_factory=list)
    n_reasoning: int = 0
    n_api_call: int = 0
    max_steps: int = MAX_STEPS
    done_by_tool: bool = False


class TauEnvironment:
    name = "tau"

    def __init__(self, prompt_dir: Path | None = None, max_steps: int = MAX_STEPS, domains: Sequence[str] = DOMAINS) -> None:
        self.prompt_dir = Path(prompt_dir) if prompt_dir else PROMPTS
        self.max_steps = max_steps
        self.domains = tuple(domains)
        self.grade_file = GRADE_FILE
        self.user_profile = UserProfile(
            greeting=GREETING,
            stop_token=STOP_TOKEN,
            prompt_dir=self.prompt_dir,
            agent_prefix="",
            user_to_agent="{text}",
            transcript_user="User: {text}",
            transcript_agent="Agent: {text}",
            judge_lenient=True,
            judge_counts_extras=False,
        )

    # --- scenarios ----------------------------------------------------------------------

    def scenarios(self, split: str = "test", subset: int = 0, ids: Sequence[str] | None = None) -> list[Scenario]:
        """The 157 test tasks (`airline_<i>`, `retail_<i>`); `subset` k keeps the first k of each domain."""
        if split != "test":
            raise ConfigError("Tau-Bench has a test split only in this kit")
        out = []
        for domain in self.domains:
            chosen = task_data.test_indexes(domain)
            out += [self.scenario(domain, i) for i in (chosen[:subset] if subset else chosen)]
        if ids:
            by_id = {s.id: s for domain in self.domains for s in (self.scenario(domain, i) for i in task_data.test_indexes(domain))}
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise ConfigError(f"not Tau test tasks: {', '.join(unknown)} (ids look like airline_0, retail_12)")
            out = [by_id[i] for i in ids]
        return out

    def scenario(self, domain: str, index: int) -> Scenario:
        task = task_data.tasks(domain)[index]
        goal = task_data.goal_file(domain, index)
        instruction = goal["instruction"]
        for tag in task_data.TAGS.values():
            instruction = instruction.removeprefix(tag)
        return Scenario(
            id=f"{domain}_{index}",
            domains=(domain,),
            goal_text=instruction,
            goal={"domain": domain, "task_index": index, "user_id": task.user_id, "outputs": list(task.outputs)},
        )

    def goal_items(self, scenario: Scenario) -> list[str]:
        return task_data.goal_items(scenario.goal["domain"], scenario.goal["task_index"])

    def service_context(self, scenario: Scenario) -> dict[str, str]:
        domain = scenario.goal["domain"]
        return {"domains": domain, "api_catalogue": json.dumps(list(tool_schemas(domain, include_transfer=True)))}

    # --- one dialogue -------------------------------------------------------------------

    def open_episode(self, scenario: Scenario, folder: Path, rng: random.Random, model_name: str | None = None) -> TauEpisode:
        domain, index = scenario.goal["domain"], scenario.goal["task_index"]
        folder = Path(folder)
        write_json_atomic(folder / "task.json", {"domain": domain, "task_index": index, "model_name": model_name})
        write_json_atomic(folder / ACTIONS_FILE, [])
        return TauEpisode(scenario, folder, domain, index, load_db(domain), max_steps=self.max_steps)

    def system_prompt(self, domain: str) -> str:
        instruction = (self.prompt_dir / "react_instruction.txt").read_text(encoding="utf-8")
        return wiki(domain) + "\n#Available tools\n" + json.dumps(list(tool_schemas(domain))) + instruction

    def agent_messages(self, episode: TauEpisode, history: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system_prompt(episode.domain)}, *history]

    def act(self, episode: TauEpisode, agent_reply: str) -> ActResult:
        name, arguments = parse_action(agent_reply)
        episode.n_reasoning += 1
        episode.actions.append({"name": name, "kwargs": arguments})
        write_json_atomic(episode.folder / ACTIONS_FILE, episode.actions)
        exhausted = episode.n_reasoning >= episode.max_steps
        if name == RESPOND:
            content = str(arguments.get("content", ""))
            return ActResult(reply=agent_reply, observation=None, turn_over=True, user_text=content, budget_exhausted=exhausted)
        try:
            output = call_tool(episode.domain, episode.db, name, arguments)
        except ToolOutputError as exc:
            output = f"Error: {exc}"  # v1 crashed the dialogue here (FIDELITY.md)
        episode.n_api_call += 1
        ended = name in TERMINAL_TOOLS
        episode.done_by_tool = episode.done_by_tool or ended
        return ActResult(
            reply=agent_reply,
            observation=f"API output: {output}",
            observation_role="user",
            turn_over=ended or exhausted,
            budget_exhausted=ended or exhausted,
            api_call=name,
        )

    # --- grading ------------------------------------------------------------------------

    def grade(self, folder: Path) -> dict[str, Any]:
        """Replay the recorded actions on a pristine DB and apply v1's reward; write eval_result.json."""
        folder = Path(folder)
        task = read_json(folder / "task.json")
        domain, index = task["domain"], task["task_index"]
        actions = read_json(folder / ACTIONS_FILE)
        stats = read_json(folder / "dialogue_stats.json") if (folder / "dialogue_stats.json").is_file() else {}
        db = load_db(domain)
        ended_by_transfer = False
        for action in actions:
            if action["name"] == RESPOND:
                continue
            try:
                call_tool(domain, db, action["name"], action["kwargs"])
            except ToolOutputError:
                pass
            if action["name"] in TERMINAL_TOOLS:
                ended_by_transfer = True
                break
        stopped = stats.get("ended_by") == "stop" or ended_by_transfer
        result = reward_result(domain, index, db, actions) if stopped else None
        grade = {
            "task_id": index,
            "reward": result["reward"] if result else 0.0,
            "info": {"domain": domain, "reward_info": result, "source": "user" if not ended_by_transfer else TERMINAL_TOOLS[0]},
            "trial": _trial(folder.name),
        }
        write_json_atomic(folder / GRADE_FILE, grade, indent=2)
        return grade

    def read_grade(self, folder: Path) -> dict[str, Any]:
        return read_json(Path(folder) / GRADE_FILE)

    def outcome(self, grade: dict[str, Any]) -> tuple[bool, float]:
        reward = float(grade.get("reward", 0.0))
        return reward == 1.0, reward

    def is_dialogue_folder(self, folder: Path) -> bool:
        return (folder / "task.json").is_file() and (folder / ACTIONS_FILE).is_file()


def _trial(name: str) -> int:
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0
