"""Tau-Bench v1 behind the `Environment` seam: tasks, ChatReAct agent protocol, tools, reward.

The agent sees the domain policy (wiki), the tool schemas (transfer hidden, as in the paper) and
a ReAct instruction; each reply is one action, `{"name": ..., "arguments": {...}}` after
`Action:`. `respond` talks to the user; any other name runs a tool and the agent reads
`API output: <observation>`; the hidden transfer tool ends the dialogue. 30 steps in all.
Grading re-parses the agent's messages in `reasoning_trajectory.json`, replays their actions on
a pristine DB (tools are deterministic) and applies v1's reward, so a folder is re-graded from the
original's own files: ours and the published ones alike. Folder names are `<domain>_<task>_<trial>`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from shared.environment import (
    ActResult,
    EnvironmentBase,
    Scenario,
    TranscriptFormat,
    UserData,
    UserProfile,
    step_reply,
    tool_step_messages,
)
from shared.errors import ConfigError
from shared.files import read_json, read_json_or_none, write_json_atomic, write_text_atomic
from shared.paper.texts import paper_texts
from shared.score_format import DEFAULT_FORMAT, ScoreFormat
from shared.state_files import TauGrade, checked
from shared.tool_call import ToolCall, tool_calls_of
from tau_env import tasks as task_data
from tau_env import viewer
from tau_env.db import load_db
from tau_env.resources import DOMAINS, ROOT, read_bytes
from tau_env.reward import RESPOND, reward_result
from tau_env.tool_step import TERMINAL_TOOLS, ToolOutputError, call_tool

PROMPTS = Path(__file__).with_name("prompts")
GREETING = "Hi! How can I help you today?"
STOP_TOKEN = "###STOP###"
# The simulator's personas and fragment-style examples: upstream keeps byte-identical copies for Tau,
# and Tau's manifest names the MultiWOZ paths, so one copy on disk serves both environments.
USER_DATA = UserData(
    environment="tau",
    persona_pattern="multiwoz_env/persona/persona_list_{index}.json",
    persona_count=1000,
    fragment_file="multiwoz_env/short_fragment_dumping.json",
)
MAX_STEPS = 30
GRADE_FILE = "eval_result.json"
TRAJECTORY_FILES = ("reasoning_trajectory.json", "dial_hist_system_list.json")  # identical copies in the original
FOLDER_NAME = re.compile(r"^(airline|retail)_(\d+)_(\d+)$")
API_OUTPUT = "API output: "
# The simulator's files under the original Tau names; the environment writes the config (with the
# agent's model name) and dialogue_state_list.json (Tau's shape) itself.
TAU_USER_FILES = {
    "config": "non_coll_config.json",
    "persona": "persona.txt",
    "prompt": "prompt.txt",
    "dialogue_state": None,
    "tangential": "tangential_config.json",
    "respond_results": "tangential_respond_result_list.json",
    "messages": "dialogue_history.json",
    "turn_events": "user_turn_events.json",
}
# success_eval.py's block: the count first, two-space indent, "Attempt N" without a colon; pass
# rate is a copy of success (v1 rewards are 0 or 1), airline and retail pooled per trial.
TAU_SCORE_FORMAT = ScoreFormat(
    header="Attempt {attempt}",
    indent="  ",
    order=("total_graded_cnt", *(key for key in DEFAULT_FORMAT.order if key != "total_graded_cnt")),
    whole_goal_align_as_int=True,
)


@cache
def tool_schemas(domain: str, include_transfer: bool = False) -> tuple[dict[str, Any], ...]:
    schemas = json.loads(read_bytes(f"{ROOT}/{domain}_api_documentation_list.json"))
    return tuple(s for s in schemas if include_transfer or s["function"]["name"] not in TERMINAL_TOOLS)


def service_catalogue(domain: str) -> list[dict[str, Any]]:
    """The tools the unavailable-service helper is shown, as in the paper: every tool including the
    hidden transfer (airline 13 without `think`, retail 16 with it)."""
    return [s for s in tool_schemas(domain, include_transfer=True) if domain != "airline" or s["function"]["name"] != "think"]


@cache
def wiki(domain: str) -> str:
    return read_bytes(f"{ROOT}/tau_bench/envs/{domain}/wiki.md").decode("utf-8")


def parse_action(reply: str) -> tuple[str, dict[str, Any]]:
    """v1's ChatReAct parsing: the JSON after the last `Action:`; anything unparsable is a respond
    with that text (v1 also asserted on JSON without name/arguments; here that is a respond too, and
    so is JSON nested too deep for the decoder, where v1 crashed with RecursionError)."""
    text = reply.split("Action:")[-1].strip()
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return RESPOND, {"content": text}
    if not isinstance(parsed, dict) or "name" not in parsed or "arguments" not in parsed or not isinstance(parsed["arguments"], dict):
        return RESPOND, {"content": text}
    return str(parsed["name"]), parsed["arguments"]


def tool_arguments(call: ToolCall) -> dict[str, Any] | str:
    """A tool call's arguments as a JSON object, or the error observation the agent gets instead."""
    try:
        parsed = json.loads(call.arguments or "{}")
    except (ValueError, RecursionError) as exc:
        return f"Error: the arguments of {call.name} are not valid JSON ({type(exc).__name__})"
    if not isinstance(parsed, dict):
        return f"Error: the arguments of {call.name} must be a JSON object, not {type(parsed).__name__}"
    return parsed


def trajectory_actions(trajectory: Sequence[dict[str, Any]], tool_calling: bool = False) -> list[dict[str, Any]]:
    """The episode's actions, re-parsed from the agent's messages (parsing is deterministic). A
    tool-calling agent's message is one action per call whose arguments parse (the others never
    ran), or a respond with its text when it called nothing."""
    out = []
    for message in trajectory:
        if message.get("role") != "assistant":
            continue
        if not tool_calling:
            name, arguments = parse_action(str(message.get("content", "")))
            out.append({"name": name, "kwargs": arguments})
            continue
        calls = tool_calls_of(message)
        if not calls:
            out.append({"name": RESPOND, "kwargs": {"content": str(message.get("content") or "")}})
        for call in calls:
            parsed = tool_arguments(call)
            if isinstance(parsed, dict):
                out.append({"name": call.name, "kwargs": parsed})
                if call.name in TERMINAL_TOOLS:
                    break
    return out


def ended_by_user(trajectory: Sequence[dict[str, Any]]) -> bool:
    """The user's last reply (the last message, a user message that is not a tool output) stopped."""
    if not trajectory:
        return False
    last = trajectory[-1]
    content = str(last.get("content", ""))
    return last.get("role") == "user" and not content.startswith(API_OUTPUT) and STOP_TOKEN in content


def parse_folder_name(name: str) -> tuple[str, int, int]:
    match = FOLDER_NAME.match(name)
    if not match:
        raise ValueError(f"a Tau dialogue folder is named <airline|retail>_<task>_<trial>, not {name!r}")
    return match.group(1), int(match.group(2)), int(match.group(3))


@dataclass
class TauEpisode:
    scenario: Scenario
    folder: Path
    domain: str
    task_index: int
    db: dict[str, Any]
    model_name: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    n_reasoning: int = 0
    n_api_call: int = 0
    max_steps: int = MAX_STEPS
    done_by_tool: bool = False


def run_tool(episode: TauEpisode, name: str, arguments: dict[str, Any]) -> str:
    """One tool call on the episode's DB, counted; a tool that returns no text is an error
    observation (v1 crashed the dialogue there: FIDELITY.md)."""
    try:
        output = call_tool(episode.domain, episode.db, name, arguments)
    except ToolOutputError as exc:
        output = f"Error: {exc}"
    episode.n_api_call += 1
    return output


class TauEnvironment(EnvironmentBase):
    name = "tau"
    title = "Tau-Bench"
    analysis_module = "tau_env.analysis"
    default_attempts = 10  # the original's Tau runner regenerated up to 10 times
    published_archive: str | None = "experiment_result_tau.zip"
    data_package: str | None = "tau_env"
    selectable_domains: tuple[str, ...] = tuple(DOMAINS)
    transcript_format: TranscriptFormat = viewer.TRANSCRIPT
    score_format = TAU_SCORE_FORMAT
    scripted_agent_reply = 'Thought:\nI can answer.\nAction:\n{"name": "respond", "arguments": {"content": "Everything is done."}}'
    bench_suites: Mapping[str, str] = MappingProxyType({"tau-db": "tau_env.db_bench:bench"})
    paper_prompts = "tau_env.paper_wording:TauPaperPrompts"
    paper_judge = "tau_env.paper_wording:TauPaperJudge"
    table_notes: Mapping[str, tuple[str, ...]] = MappingProxyType(
        {
            "success": ("Its tau pooling is unresolved (ours pools airline and retail; per-domain beside).",),
            "pass_align": ("Pass rate = success (v1 rewards are 0 or 1).",),
            "scores": ("success = pass = reward 1, airline and retail pooled, with one row per domain below.",),
        }
    )

    def __init__(
        self, prompt_dir: Path | None = None, max_steps: int = MAX_STEPS, domains: Sequence[str] = DOMAINS, prompts: str = "ncusim"
    ) -> None:
        self.prompt_dir = Path(prompt_dir) if prompt_dir else PROMPTS
        self.prompts = prompts  # paper: v1's REACT_INSTRUCTION, read from the verified upstream file
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
            files=TAU_USER_FILES,
            user_data=USER_DATA,
        )
        self._system_prompts: dict[str, str] = {}

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
        # The airline prompt of the paper adds a third rule; the retail one has two.
        extra_rule = " Nor may a new goal replace an existing one: every existing goal stays as it is." if domain == "airline" else ""
        return {"domains": domain, "api_catalogue": json.dumps(service_catalogue(domain), indent=1), "extra_rule": extra_rule}

    def score_group(self, folder_name: str) -> str | None:
        """Per-domain rows beside the pooled block (the original printed only the pooled rate)."""
        match = FOLDER_NAME.match(folder_name)
        return match.group(1) if match else None

    # --- one dialogue -------------------------------------------------------------------

    def open_episode(self, scenario: Scenario, folder: Path, rng: random.Random, model_name: str | None = None) -> TauEpisode:
        domain, index = scenario.goal["domain"], scenario.goal["task_index"]
        return TauEpisode(scenario, Path(folder), domain, index, load_db(domain), model_name=model_name, max_steps=self.max_steps)

    def system_prompt(self, domain: str) -> str:
        """The ChatReAct agent's system prompt, built once per domain (it is sent with every agent step)."""
        prompt = self._system_prompts.get(domain)
        if prompt is None:
            prompt = self._system_prompts[domain] = self._build_system_prompt(domain)
        return prompt

    def _build_system_prompt(self, domain: str) -> str:
        if self.prompts == "paper":
            texts = paper_texts("tau")
            names = {"RESPOND_ACTION_NAME": texts.text("agent.respond_action_name")}
            names["RESPOND_ACTION_FIELD_NAME"] = texts.text("agent.respond_action_field_name")
            instruction = texts.fstring("agent.react_instruction", **names)
        else:
            instruction = (self.prompt_dir / "react_instruction.txt").read_text(encoding="utf-8")
        return wiki(domain) + "\n#Available tools\n" + json.dumps(list(tool_schemas(domain))) + instruction

    def agent_prompt_chars(self) -> float:
        """Mean size of the agent's system prompt over the chosen domains (the cost estimate)."""
        return sum(len(self.system_prompt(domain)) for domain in self.domains) / len(self.domains)

    def agent_messages(self, episode: TauEpisode, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.system_prompt(episode.domain)}, *history]

    # --- a tool-calling agent -----------------------------------------------------------

    def agent_tools(self, episode: TauEpisode) -> list[dict[str, Any]]:
        """Every tool of the domain, the transfer included, as v1's ToolCallingAgent offers them."""
        return [dict(schema) for schema in tool_schemas(episode.domain, include_transfer=True)]

    def tool_agent_messages(self, episode: TauEpisode, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """v1's ToolCallingAgent: the domain policy is the whole system prompt."""
        return [{"role": "system", "content": wiki(episode.domain)}, *history]

    def act_tool_calls(self, episode: TauEpisode, content: str | None, calls: Sequence[ToolCall]) -> ActResult:
        """One step: the calls run in order (all of them, where v1 ran only the first), each answered
        by its tool's output or the tool's own error text; the transfer ends the episode and the
        calls after it do not run. A message without calls is a respond to the user."""
        episode.n_reasoning += 1
        exhausted = episode.n_reasoning >= episode.max_steps
        if not calls:
            text = content or ""
            episode.actions.append({"name": RESPOND, "kwargs": {"content": text}})
            messages = tool_step_messages(content, [], [])
            return ActResult(reply=text, observation=None, turn_over=True, user_text=text, budget_exhausted=exhausted,
                             answered_at_budget_end=True, messages=messages)  # fmt: skip
        observations: list[str] = []
        ended = False
        for call in calls:
            if ended:
                observations.append("Error: not run: the conversation was transferred to a human agent")
                continue
            parsed = tool_arguments(call)
            if isinstance(parsed, str):
                observations.append(parsed)
                continue
            episode.actions.append({"name": call.name, "kwargs": parsed})
            observations.append(run_tool(episode, call.name, parsed))
            ended = call.name in TERMINAL_TOOLS
        episode.done_by_tool = episode.done_by_tool or ended
        return ActResult(
            reply=step_reply(content, calls),
            observation=None,
            turn_over=ended or exhausted,
            budget_exhausted=ended or exhausted,
            api_call=calls[0].name,
            messages=tool_step_messages(content, calls, observations),
        )

    def act(self, episode: TauEpisode, agent_reply: str) -> ActResult:
        name, arguments = parse_action(agent_reply)
        episode.n_reasoning += 1
        episode.actions.append({"name": name, "kwargs": arguments})
        exhausted = episode.n_reasoning >= episode.max_steps
        if name == RESPOND:
            content = str(arguments.get("content", ""))
            # On the last step too: v1 still sends it to the user, and a stop reply is graded.
            return ActResult(
                reply=agent_reply,
                observation=None,
                turn_over=True,
                user_text=content,
                budget_exhausted=exhausted,
                answered_at_budget_end=True,
            )
        output = run_tool(episode, name, arguments)
        ended = name in TERMINAL_TOOLS
        episode.done_by_tool = episode.done_by_tool or ended
        return ActResult(
            reply=agent_reply,
            observation=API_OUTPUT + output,
            observation_role="user",
            turn_over=ended or exhausted,
            budget_exhausted=ended or exhausted,
            api_call=name,
        )

    # --- files ------------------------------------------------------------------------

    def save_dialogue(self, episode: TauEpisode, folder: Path, agent_messages: list[dict[str, Any]], user: Any) -> None:
        """The original's Tau files (run.py's save step): config with the agent model, goal, both
        trajectory copies, the simulator's transcript and Tau's dialogue-state summary."""
        folder = Path(folder)
        write_json_atomic(folder / "non_coll_config.json", {**user.behaviors.as_config(), "model_name": episode.model_name})
        goal = dict(task_data.goal_file(episode.domain, episode.task_index))
        # the tag removed and the unavailable-service goals joined on (a PBUS topic is prompt-only)
        goal["instruction"] = episode.scenario.goal_text + user.extras_join
        write_json_atomic(folder / "goal_list.json", goal)
        trajectory = with_reply_counters(agent_messages)
        for name in TRAJECTORY_FILES:
            write_json_atomic(folder / name, trajectory)
        lines = [("User: " if m["role"] == "assistant" else "Agent: ") + str(m["content"]) for m in user.messages[2:]]
        write_text_atomic(folder / "dialogue_history.txt", "\n\n".join(lines))
        initial = self.goal_items(episode.scenario)  # without unavailable-service extras, as the original recomputed it
        state = user.state
        write_json_atomic(
            folder / "dialogue_state_list.json",
            {
                "initial_dialogue_state_list": initial,
                "remaining_dialogue_state_list": state.remaining,
                "used_dialogue_state_list": state.used,
                "all_info_provided": not state.remaining and set(state.used) == set(initial),
            },
            indent=2,
        )

    # --- grading ------------------------------------------------------------------------

    def grade(self, folder: Path, write: bool = True) -> dict[str, Any]:
        """Replay the trajectory's actions on a pristine DB and apply v1's reward; write eval_result.json
        in v1's shape. A published folder whose original run errored (not an AssertionError) stays
        ungraded, as success_eval.py left it out."""
        folder = Path(folder)
        domain, index, trial = parse_folder_name(folder.name)
        recorded = read_json(folder / GRADE_FILE) if (folder / GRADE_FILE).is_file() else {}
        traceback = str((recorded.get("info") or {}).get("traceback") or "")
        if traceback and "AssertionError" not in traceback:
            raise ValueError("the original run of this dialogue errored; success_eval.py left it ungraded")
        trajectory = self.read_trajectory(folder)
        meta = read_json_or_none(folder / "run_meta.json")
        tool_calling = isinstance(meta, dict) and meta.get("agent") == "tool-calling"
        actions = trajectory_actions(trajectory, tool_calling)
        db = load_db(domain)
        source = "user"
        transferred = False
        for action in actions:
            source = "user" if action["name"] == RESPOND else action["name"]
            if action["name"] == RESPOND:
                continue
            try:
                call_tool(domain, db, action["name"], action["kwargs"])
            except ToolOutputError:
                pass
            if action["name"] in TERMINAL_TOOLS:
                transferred = True
                break
        if ended_by_user(trajectory):
            source = "user"
        done = transferred or ended_by_user(trajectory)
        result = reward_result(domain, index, db, actions) if done else None
        task = task_data.tasks(domain)[index]
        task_dump = {"user_id": task.user_id, "actions": [dict(a) for a in task.actions], "instruction": task.instruction}
        info = {
            "task": {**task_dump, "outputs": list(task.outputs)},
            "source": source,
            "user_cost": 0.0 if done else None,
            "reward_info": result,
        }
        grade = {"task_id": index, "reward": result["reward"] if result else 0.0, "info": info, "trial": trial}
        if write:
            write_json_atomic(folder / GRADE_FILE, grade, indent=2, ensure_ascii=False)
        return grade

    def read_trajectory(self, folder: Path) -> list[dict[str, Any]]:
        for name in TRAJECTORY_FILES:
            if (folder / name).is_file():
                trajectory = read_json(folder / name)
                if not isinstance(trajectory, list):
                    raise ValueError(f"{name} is not a list of messages")
                return trajectory
        raise FileNotFoundError(f"no {' or '.join(TRAJECTORY_FILES)} in {folder}")

    def read_grade(self, folder: Path) -> dict[str, Any]:
        grade = read_json(Path(folder) / GRADE_FILE)
        checked(TauGrade, grade, GRADE_FILE)
        traceback = str((grade.get("info") or {}).get("traceback") or "")
        if traceback and "AssertionError" not in traceback:
            raise ValueError("the original run of this dialogue errored; success_eval.py left it ungraded")
        return grade

    def outcome(self, grade: dict[str, Any]) -> tuple[bool, float]:
        reward = float(grade.get("reward", 0.0))
        return reward == 1.0, reward

    def is_dialogue_folder(self, folder: Path) -> bool:
        return bool(FOLDER_NAME.match(folder.name)) and any((folder / name).is_file() for name in (*TRAJECTORY_FILES, GRADE_FILE))


def with_reply_counters(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v1's agent history as saved: user replies after a respond carry `n_reasoning: 0` (never sent
    to the model here; the original sent it and the API ignored it)."""
    out = []
    for position, message in enumerate(messages):
        message = dict(message)
        if position > 1 and message["role"] == "user" and not str(message["content"]).startswith(API_OUTPUT):
            message["n_reasoning"] = 0
        out.append(message)
    return out
