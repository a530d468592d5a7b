"""A third environment that lives outside the kit's tree: a museum box office with one API.

It exists to prove the seam: `ncusim simulate/score/analyze/report --env tests.support.toy_env:ToyEnvironment`
run it with no edit to shared code. The user wants tickets; the agent books them by saying
`BOOK <n>` (the text protocol) or by calling `book_tickets` (tool calling); the grade is whether
the right number was booked. It brings its own data (none), so `ncusim data` has nothing to fetch.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.environment import ActResult, EnvironmentBase, Scenario, UserProfile, step_reply, tool_step_messages
from shared.files import read_json, write_json_atomic
from shared.tool_call import ToolCall

GRADE_FILE = "toy_grade.json"
STATE_FILE = "toy_state.json"
SYSTEM = "You sell museum tickets. To book, reply `BOOK <number of tickets>`; anything else is said to the visitor."
BOOK = re.compile(r"BOOK\s+(\d+)")
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "book_tickets",
            "description": "Book museum tickets.",
            "parameters": {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]},
        },
    }
]


@dataclass
class ToyEpisode:
    scenario: Scenario
    folder: Path
    booked: int | None = None
    n_reasoning: int = 0
    n_api_call: int = 0
    steps: list[str] = field(default_factory=list)


class ToyEnvironment(EnvironmentBase):
    """The base class gives the defaults (no data package, domains, published archive, bench suites
    or grader fixes; the default transcript format); what the toy needs differently is set here."""

    name = "toy"
    default_attempts = 1
    scripted_agent_reply = "Your tickets are ready at the desk."
    grade_file = GRADE_FILE

    @property
    def title(self) -> str:
        return "Toy museum"

    @property
    def failure_keys(self) -> tuple[str, ...]:
        return ("wrong_count",)

    def __init__(self, max_steps: int = 6, prompts: str = "ncusim") -> None:
        self.max_steps = max_steps  # the run's options, as the runner passes them to every environment
        self.prompts = prompts
        self.user_profile = UserProfile(greeting="Welcome to the museum!", stop_token="<END>")

    def scenarios(self, split: str = "test", subset: int = 0, ids: Sequence[str] | None = None) -> list[Scenario]:
        out = [Scenario(f"toy_{n}", ("museum",), f"You want {n} tickets for the museum today.", {"tickets": n}, split) for n in (1, 2, 3)]
        return [s for s in out if s.id in ids] if ids else out[: subset or None]

    def goal_items(self, scenario: Scenario) -> list[str]:
        return [f"You want {scenario.goal['tickets']} tickets.", "You want them for today."]

    def service_context(self, scenario: Scenario) -> dict[str, str]:
        return {"domains": "museum", "api_catalogue": json.dumps(TOOLS)}

    def open_episode(self, scenario: Scenario, folder: Path, rng: random.Random, model_name: str | None = None) -> ToyEpisode:
        write_json_atomic(Path(folder) / "goal.json", {"goal": scenario.goal_text, "tickets": scenario.goal["tickets"]})
        return ToyEpisode(scenario, Path(folder))

    def agent_messages(self, episode: ToyEpisode, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"role": "system", "content": SYSTEM}, *history]

    def act(self, episode: ToyEpisode, agent_reply: str) -> ActResult:
        episode.n_reasoning += 1
        exhausted = episode.n_reasoning >= self.max_steps
        found = BOOK.search(agent_reply)
        if found:
            episode.booked = int(found.group(1))
            episode.n_api_call += 1
            return ActResult(agent_reply, "Booked.", turn_over=exhausted, budget_exhausted=exhausted, api_call="book_tickets")
        return ActResult(agent_reply, None, turn_over=True, user_text=agent_reply, budget_exhausted=exhausted)

    def agent_tools(self, episode: ToyEpisode) -> list[dict[str, Any]]:
        return TOOLS

    def tool_agent_messages(self, episode: ToyEpisode, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.agent_messages(episode, history)

    def act_tool_calls(self, episode: ToyEpisode, content: str | None, calls: Sequence[ToolCall]) -> ActResult:
        episode.n_reasoning += 1
        exhausted = episode.n_reasoning >= self.max_steps
        if not calls:
            text = content or ""
            return ActResult(
                text, None, turn_over=True, user_text=text, budget_exhausted=exhausted, messages=tool_step_messages(content, [], [])
            )
        observations = []
        for call in calls:
            try:
                episode.booked = int(json.loads(call.arguments)["count"])
                episode.n_api_call += 1
                observations.append("Booked.")
            except (ValueError, KeyError, TypeError):
                observations.append('Error: book_tickets takes {"count": <integer>}')
        return ActResult(step_reply(content, calls), None, turn_over=exhausted, budget_exhausted=exhausted,
                         messages=tool_step_messages(content, calls, observations))  # fmt: skip

    def save_dialogue(self, episode: ToyEpisode, folder: Path, agent_messages: list[dict[str, Any]], user: Any) -> None:
        write_json_atomic(Path(folder) / STATE_FILE, {"booked": episode.booked, "steps": episode.n_reasoning})

    def grade(self, folder: Path, write: bool = True) -> dict[str, Any]:
        state = read_json(Path(folder) / STATE_FILE)
        wanted = read_json(Path(folder) / "goal.json")["tickets"]
        grade = {"booked": state["booked"], "wanted": wanted, "success": state["booked"] == wanted}
        if write:
            write_json_atomic(Path(folder) / GRADE_FILE, grade)
        return grade

    def read_grade(self, folder: Path) -> dict[str, Any]:
        grade: dict[str, Any] = read_json(Path(folder) / GRADE_FILE)
        return grade

    def outcome(self, grade: dict[str, Any]) -> tuple[bool, float]:
        return bool(grade["success"]), 1.0 if grade["success"] else 0.0

    def is_dialogue_folder(self, folder: Path) -> bool:
        return (Path(folder) / "goal.json").is_file()

    def analyze_dialogue(self, folder: Path) -> dict[str, Any]:
        grade = read_json(Path(folder) / GRADE_FILE)
        return {
            "wrong_count": int(grade["booked"] is not None and not grade["success"]),
            "steps": read_json(Path(folder) / STATE_FILE)["steps"],
        }

    def summarize_analysis(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "wrong_count": sum(r["wrong_count"] for r in records),
            "average_steps": sum(r["steps"] for r in records) / max(len(records), 1),
        }

    @property
    def analysis_labels(self) -> dict[str, str]:
        return {"wrong_count": "wrong number booked", "average_steps": "agent steps per dialogue"}
