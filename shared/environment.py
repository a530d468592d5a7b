"""The one seam between the environment-agnostic kit and a benchmark.

The simulator, conversation loop, runner, scoring and analysis only see an `Environment` from
`get(name)`; they never import `multiwoz_env` or `tau_env`. A third benchmark is one more package
implementing this protocol plus one `register()` line (or an entry in `BUILTIN`).
"""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, runtime_checkable

from shared.errors import ConfigError
from shared.score_format import DEFAULT_FORMAT, ScoreFormat
from shared.tool_call import ToolCall


@dataclass(frozen=True)
class Scenario:
    id: str  # e.g. "PMUL0095.json" (MultiWOZ keeps the original's file name) or "airline_12"
    domains: tuple[str, ...]
    goal_text: str
    goal: dict[str, Any]
    split: str = "test"


@dataclass(frozen=True)
class UserData:
    """The simulator's own data for an environment, as upstream paths its data manifest lists.

    A persona is drawn uniformly from `persona_count` files named by `persona_pattern` (with
    `{index}`), then uniformly within the file; the incomplete-utterance behaviour draws its
    examples from `fragment_file`. Empty (the default): no persona, and no example pool.
    """

    environment: str | None = None  # the environment whose data manifest lists these files (`ncusim data`)
    persona_pattern: str = ""
    persona_count: int = 0
    fragment_file: str = ""


@dataclass(frozen=True)
class UserProfile:
    """What the user simulator needs to know about an environment."""

    greeting: str  # the agent's opening line the simulator answers first
    stop_token: str  # "<END>" (MultiWOZ) or "###STOP###" (Tau)
    prompt_dir: Path | None = None  # environment prompts; `<prompt_dir>/user/` overrides simulator templates
    agent_prefix: str = ""  # how an agent turn is shown to the user model ("# System: " in MultiWOZ)
    user_to_agent: str = "{text}"  # how a user turn is shown to the agent (MultiWOZ: " {text}")
    transcript_user: str = "User: {text}"  # dial_hist_user.txt lines (MultiWOZ: "# You: {text}")
    transcript_agent: str = "Agent: {text}"  # (MultiWOZ: "# System: {text}")
    judge_lenient: bool = False  # Tau: an item the agent proposed and the user accepted counts
    judge_counts_extras: bool = True  # MultiWOZ: the unavailable-service goals must be stated too
    extras: dict[str, Any] = field(default_factory=dict)
    # The simulator's own files in a dialogue folder, by role; None: the environment writes its
    # own version in `save_dialogue` (Tau's dialogue_state_list.json has another shape).
    files: Mapping[str, str | None] = field(default_factory=lambda: MULTIWOZ_USER_FILES)
    user_data: UserData = UserData()  # personas and the fragment pool


MULTIWOZ_USER_FILES: Mapping[str, str | None] = MappingProxyType(
    {
        "config": "non_coll_config.json",
        "persona": "persona.txt",
        "prompt": "base_prompt.txt",
        "dialogue_state": "dialogue_state_list.json",
        "tangential": "tangential_config.json",
        "respond_results": "tangential_respond_result_list.json",
        "messages": "user_message_list.json",
        "turn_events": "user_turn_events.json",  # ours: what each behaviour did per user turn
    }
)


@dataclass
class ActResult:
    """Outcome of one agent step."""

    reply: str  # the agent reply as kept in the history (after the environment's normalisation)
    observation: str | None  # what the agent sees next, appended to its history (None: nothing)
    turn_over: bool = False  # the agent talked (or ran out of steps): the user speaks next
    user_text: str | None = None  # what the user hears when the turn is over
    budget_exhausted: bool = False  # no agent steps left: the dialogue ends after this step
    # With budget_exhausted: the user still answers this talk before the dialogue ends (Tau v1 sends
    # a respond on the last step to the user, and a stop in that reply is graded); MultiWOZ does not.
    answered_at_budget_end: bool = False
    api_call: str | None = None  # the API the step called, if any
    process_reward: float = 0.0  # the original's per-step reward (0, 0.5, 1)
    observation_role: str = "system"  # MultiWOZ observations are system messages, Tau's user messages
    # A tool-calling agent's step: the assistant message with its tool calls and one tool message
    # per call, appended to the history as they are (instead of `reply` and `observation`).
    messages: list[dict[str, Any]] | None = None


def tool_step_messages(content: str | None, calls: Sequence[ToolCall], observations: Sequence[str]) -> list[dict[str, Any]]:
    """The chat API's record of one tool-calling step: the assistant's message, then each call's result."""
    assistant: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        assistant["tool_calls"] = [call.as_message_part() for call in calls]
    answers = [{"role": "tool", "tool_call_id": c.id, "name": c.name, "content": o} for c, o in zip(calls, observations, strict=True)]
    return [assistant, *answers]


def step_reply(content: str | None, calls: Sequence[ToolCall]) -> str:
    """A tool-calling step as one line of agent_response_list.json: its text, or its calls as JSON."""
    if not calls:
        return content or ""
    return json.dumps({"content": content, "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in calls]})


def _raw_reply(text: str) -> dict[str, Any]:
    return {"thought": "", "kind": "raw", "action": text.strip()}


def _no_observation(role: str, text: str) -> bool:
    return False


def _as_said(text: str) -> str:
    return text


def _no_goal(folder: Path) -> str:
    return ""


def _pass_or_fail(passed: bool, score: float | None) -> str:
    return "PASS" if passed else "FAIL"


def _grade_as_is(grade: dict[str, Any]) -> dict[str, Any]:
    return dict(grade)


@dataclass(frozen=True)
class TranscriptFormat:
    """How the report's viewer reads a finished dialogue folder of an environment (ours or the
    original's published ones). Every function reads text only; nothing is executed."""

    agent_chat_files: tuple[str, ...] = ("dial_hist_system_list.json",)  # the first readable one is the agent's chat
    simulator_messages_file: str = "user_message_list.json"  # the simulator's messages, with per-turn `dialogue_state`
    # An agent reply -> {"thought", "kind": "talk" | "call" | "raw", "action", ["name"]}.
    parse_reply: Callable[[str], dict[str, Any]] = _raw_reply
    is_observation: Callable[[str, str], bool] = _no_observation  # (role, text) of a chat message
    hidden_observations: tuple[str, ...] = ()  # acknowledgements that carry nothing worth showing
    user_as_said: Callable[[str], str] = _as_said  # a user turn as the agent saw it -> as the user said it
    goal_text: Callable[[Path], str] = _no_goal
    grade_summary: Callable[[dict[str, Any]], dict[str, Any]] = _grade_as_is  # what the transcript header shows
    outcome_text: Callable[[bool, float | None], str] = _pass_or_fail  # a graded dialogue's outcome in the report's table


EpisodeT = TypeVar("EpisodeT")


@runtime_checkable
class Environment(Protocol[EpisodeT]):
    """A benchmark, generic over its episode type (the per-dialogue state `open_episode` returns and
    every step gets back: MultiWOZ's sandbox, Tau's DB overlay, the toy's booking)."""

    name: str
    title: str  # how reports and tables name it ("MultiWOZ")
    default_attempts: int  # regeneration attempts per dialogue when the run does not say (the paper's)
    published_archive: str | None  # the paper's published dialogues (`make fetch-results`), if any
    # The package whose `data_manifest.json` lists the environment's upstream files (fetched into
    # `<kit>/<package>/data/`), or None for an environment that brings its own data.
    data_package: str | None
    selectable_domains: tuple[str, ...]  # what `--domains` may choose from; () when scenarios fix their domains
    transcript_format: TranscriptFormat  # how the report reads its dialogue folders
    table_notes: Mapping[str, tuple[str, ...]]  # sentences under the paper tables ("success", "pass_align")
    # Grader options a user may turn on (`ncusim score --grader-fix NAME`): name -> what it fixes.
    # Each is a keyword argument of the environment's constructor.
    grader_fixes: Mapping[str, str]
    # A text-protocol agent reply that answers the user and calls nothing: the zero-latency agent of
    # `make bench` and of tests that need an agent which ends its turn.
    scripted_agent_reply: str
    # Benchmarks of the environment's own costs (`ncusim bench --suite NAME`): name -> `module:function`
    # of a function with no required arguments that returns a JSON-able report.
    bench_suites: Mapping[str, str]
    score_format: ScoreFormat  # how its score_list blocks are printed (its original evaluator's layout)
    # Paper mode (`--prompts paper`): `module:attr` of the classes that fill the original's texts
    # (read from the verified upstream files under the environment's name) as its simulator and
    # judge filled them; the defaults fill them MultiWOZ's way.
    paper_prompts: str
    paper_judge: str

    def score_group(self, folder_name: str) -> str | None:
        """The group a dialogue folder's score also counts in beside the pooled block (Tau: its
        domain), or None."""
        ...

    @property
    def failure_keys(self) -> tuple[str, ...]:
        """The analysis counters of the paper's failure table, in order."""
        ...

    user_profile: UserProfile
    grade_file: str  # the file whose presence (with goal_align_result.json) marks a finished dialogue

    def scenarios(self, split: str = "test", subset: int = 0, ids: Sequence[str] | None = None) -> list[Scenario]: ...

    def goal_items(self, scenario: Scenario) -> list[str]: ...

    def service_context(self, scenario: Scenario) -> dict[str, str]: ...

    def open_episode(self, scenario: Scenario, folder: Path, rng: random.Random, model_name: str | None = None) -> EpisodeT: ...

    def agent_messages(self, episode: EpisodeT, history: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def act(self, episode: EpisodeT, agent_reply: str) -> ActResult: ...

    # A tool-calling agent (`--agent tool-calling`): the environment's APIs as JSON-schema tools,
    # the agent's own system prompt, and one step of tool calls (or a message to the user).
    def agent_tools(self, episode: EpisodeT) -> list[dict[str, Any]]: ...

    def tool_agent_messages(self, episode: EpisodeT, history: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def act_tool_calls(self, episode: EpisodeT, content: str | None, calls: Sequence[ToolCall]) -> ActResult: ...

    def save_dialogue(self, episode: EpisodeT, folder: Path, agent_messages: list[dict[str, Any]], user: Any) -> None:
        """Write the environment's own end-of-dialogue files (after the simulator's); may do nothing."""
        ...

    def grade(self, folder: Path, write: bool = True) -> dict[str, Any]:
        """Grade a finished folder from its own files; `write=False` computes without writing."""
        ...

    def analyze_dialogue(self, folder: Path) -> dict[str, Any]:
        """Error-analysis and appendix counters of one finished dialogue folder (read-only)."""
        ...

    def summarize_analysis(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """An experiment's analysis numbers from its dialogues' records (ordered, JSON-able)."""
        ...

    def read_grade(self, folder: Path) -> dict[str, Any]: ...

    def outcome(self, grade: dict[str, Any]) -> tuple[bool, float]: ...

    def is_dialogue_folder(self, folder: Path) -> bool: ...


class EnvironmentBase:
    """Defaults for an environment class: the descriptive members (overridden as class attributes)
    and, for an environment that names an `analysis_module` with `dialogue_record(folder)`,
    `summarize(records)` and `PARITY_LABELS`, the analysis members (the module is imported on first
    use: simulating never needs it)."""

    name: str = ""
    analysis_module: str = ""
    default_attempts: int = 5
    published_archive: str | None = None
    data_package: str | None = None
    selectable_domains: tuple[str, ...] = ()
    transcript_format: TranscriptFormat = TranscriptFormat()
    grader_fixes: Mapping[str, str] = MappingProxyType({})
    scripted_agent_reply: str = "Done. Is there anything else I can do for you?"
    bench_suites: Mapping[str, str] = MappingProxyType({})
    score_format: ScoreFormat = DEFAULT_FORMAT
    paper_prompts: str = "shared.paper.user_prompts:PaperPrompts"
    paper_judge: str = "shared.paper.judge_prompts:PaperJudge"

    @property
    def title(self) -> str:
        return self.name

    def score_group(self, folder_name: str) -> str | None:
        return None

    def _analysis(self) -> Any:
        return importlib.import_module(self.analysis_module)

    def analyze_dialogue(self, folder: Path) -> dict[str, Any]:
        return dict(self._analysis().dialogue_record(Path(folder)))

    def summarize_analysis(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._analysis().summarize(records))

    @property
    def analysis_labels(self) -> dict[str, str]:
        return dict(self._analysis().PARITY_LABELS)

    @property
    def failure_keys(self) -> tuple[str, ...]:
        """The analysis counters of the paper's failure table (the analysis module's `FAILURE_KEYS`)."""
        return tuple(getattr(self._analysis(), "FAILURE_KEYS", ()))

    # Sentences the paper tables add under a table of this environment, by table ("success", "pass_align").
    table_notes: Mapping[str, tuple[str, ...]] = MappingProxyType({})


# Environments shipped with the kit, imported on first use so the others need not load.
BUILTIN: dict[str, str] = {
    "multiwoz": "multiwoz_env.environment:MultiwozEnvironment",
    "tau": "tau_env.environment:TauEnvironment",
}
DEFAULT = "multiwoz"  # what `--env` means when a command is not told
_REGISTRY: dict[str, Callable[..., Environment[Any]]] = {}


ENTRY_POINT_GROUP = "ncusim.environments"  # installed packages add environments under this group


@cache
def _installed() -> dict[str, str]:
    """Environments other packages add by entry point: name -> `module:attr`."""
    return {e.name: e.value for e in entry_points(group=ENTRY_POINT_GROUP) if e.name not in BUILTIN}


def register(name: str, factory: Callable[..., Environment[Any]]) -> None:
    _REGISTRY[name] = factory
    with_upstream_data.cache_clear()
    published.cache_clear()


def unregister(name: str) -> None:
    """Remove a registered environment (tests, plug-in reloads)."""
    _REGISTRY.pop(name, None)
    with_upstream_data.cache_clear()
    published.cache_clear()


def names() -> list[str]:
    return sorted(set(BUILTIN) | set(_REGISTRY) | set(_installed()))


def load_target(target: str, what: str) -> Any:
    """The object `module:attr` names; a ConfigError naming `what` when it cannot be imported."""
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        raise ConfigError(f"{what} is not available ({target} cannot be imported)") from None


def _load(target: str, what: str) -> Callable[..., Environment[Any]]:
    factory: Callable[..., Environment[Any]] = load_target(target, what)
    return factory


def resolve_name(name: str) -> str:
    """The registry name of `name`: itself, or for a `module:attr` plug-in named on the command line,
    the `name` of the environment it builds, registered under it (results folders and every later
    lookup use that name)."""
    if ":" not in name or name in names():
        return name
    factory = _load(name, f"environment plug-in {name!r}")
    built = factory()
    canonical = str(getattr(built, "name", "") or "")
    if not canonical or ":" in canonical or "/" in canonical:
        raise ConfigError(f"environment plug-in {name!r} must have a plain `name` (it names the results folder)")
    register(canonical, factory)
    return canonical


@cache  # data paths are resolved per file: the registry is asked once (register() clears it)
def with_upstream_data() -> dict[str, str]:
    """Environment name -> the package holding its data manifest, for those with upstream data."""
    out = {}
    for name in names():
        package = getattr(get(name), "data_package", None)  # an environment of the protocol's older shape has none
        if package:
            out[name] = package
    return out


@cache
def published() -> dict[str, str]:
    """Environment name -> the archive of the paper's published dialogues, for those that have one."""
    out = {}
    for name in names():
        archive = getattr(get(name), "published_archive", None)
        if archive:
            out[name] = archive
    return out


def get(name: str, **options: Any) -> Environment[Any]:
    """The environment called `name`; `options` go to its constructor: the runner passes `prompts`
    (paper | ncusim) and `max_steps` when the run sets it, and the environment's own switches."""
    name = resolve_name(name)
    if name in _REGISTRY:
        factory = _REGISTRY[name]
    else:
        target = BUILTIN.get(name) or _installed().get(name)
        if target is None:
            raise ConfigError(f"unknown environment {name!r}: choose one of {', '.join(names())}, or module:attr")
        factory = _load(target, f"environment {name!r}")
    try:
        env: Environment[Any] = factory(**options)  # the module's factory, found by name
        return env
    except TypeError as exc:
        raise ConfigError(f"environment {name!r} does not take these options: {', '.join(options)} ({exc})") from None
