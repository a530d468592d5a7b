"""Model output fuzzing: whatever text a model returns, the parsers answer in their documented shape,
raise nothing but their documented error, never execute anything, and the dialogue loop goes on.

Parsers under test: the MultiWOZ agent protocol (`normalise_reply`, `interpret`, `talk_text`),
Tau's `parse_action` and `Environment.act`, the error analyses' `parse_call` and `predicted_calls`,
the report's reply parsers, and the structured-output parser (`shared.llm.structured.validate`
and `BaseChatModel.structured` in prompt-and-parse mode). Inputs are arbitrary text and structured
near-misses (text around `Action:`, `API call{`, `Talk(`, JSON and Python-literal fragments,
brackets nested past the decoders' limits, huge numbers, NUL bytes, unicode and lone surrogates);
injection payloads would create a sentinel file if anything ran them. The corpus of real malformed
outputs (tests/reliability/corpus/, built by tests/reliability/parser_corpus.py) is replayed as
regression cases.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from multiwoz_env import analysis as mw_analysis
from multiwoz_env import protocol
from multiwoz_env.apis import APIS
from multiwoz_env.sandbox import Sandbox
from multiwoz_env.viewer import parse_reply as parse_multiwoz_reply
from shared import environment
from shared.conversation import AgentSettings, converse, judge_or_unaligned
from shared.errors import ModelError
from shared.llm import structured
from shared.llm.base import BaseChatModel, Completion, Message
from shared.usersim import Behaviors, UserSimulator
from shared.usersim.emotional_acts import remove_please, strip_please
from shared.usersim.schemas import Complaints, ExtraGoals, ReasonedVerdict, Selection, Verdict
from tau_env import analysis as tau_analysis
from tau_env.environment import RESPOND, TauEnvironment, parse_action, trajectory_actions
from tau_env.tools.common import Calculate
from tau_env.viewer import parse_reply as parse_tau_reply
from tests.reliability import parser_corpus as corpus
from tests.support.scripted_calls import ScriptedCalls

# Counts scale with the loaded hypothesis profile (tests/conftest.py): `ci` runs 200 parser examples,
# 25 whole MultiWOZ dialogues and 12 Tau ones; `dev` a tenth of each (at least 2).
BASE = settings().max_examples  # a fresh settings object inherits the loaded profile
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
FUZZ = settings(max_examples=BASE, deadline=None, suppress_health_check=QUIET)
LOOP = settings(max_examples=max(2, BASE // 8), deadline=None, suppress_health_check=QUIET)
# A Tau dialogue is graded by replaying it and the task's ground truth on fresh DBs (about a second).
LOOP_TAU = settings(LOOP, max_examples=max(2, BASE * 3 // 50))
SENTINEL = corpus.SENTINEL
OBSERVATION_PREFIXES = ("Observation: ", "# Observation: ")
MULTIWOZ_KINDS = {"talk", "talk_format_error", "unsupported", "format_error", "parse_error", "unknown_api", "failed_call", "call"}
REPORT_KINDS = {"raw", "talk", "call"}

# --- strategies --------------------------------------------------------------------------------

INJECTIONS = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"open('{SENTINEL}', 'w').write('x')",
    f"exec(\"open('{SENTINEL}', 'w')\")",
    f"eval(\"__import__('os').system('touch {SENTINEL}')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "breakpoint()",
    "globals()['__builtins__']",
]
FRAGMENTS = [
    "Action:", "- Action: ", "Action:\n", "Thought: ", "- Thought: ", "API call", "API call{", "API call[", "Talk(", "Talk", ")", "(",
    "{", "}", "[", "]", "'api_name'", "'input_parameters'", '"api_name"', '"name"', '"arguments"', '"respond"', '"content"', ":", ",",
    "'", '"', "\\", "\n", "\x00", "\t", " ", "restaurant_retrieve", "train_book", "show_api_docs", "calculate", "get_user_details",
    "transfer_to_human_agents", "None", "True", "null", "true", "NaN", "Infinity", "1e999", "-0", "9" * 40, "0x" + "f" * 30, "1_000",
    "é", "🙂", "\u202e", "\ufeff", "ℌ", "<END>", "###STOP###", "Observation:", "API output:", "```json", "```", *INJECTIONS,
]  # fmt: skip

fragments = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map("".join)
# Brackets opened up to 4000 deep (past every decoder's recursion limit), half of them closed.
nested = st.tuples(st.integers(1, 4000), st.sampled_from(["[", "{", "(", '{"a":']), st.sampled_from(["]", "}", ")", ""])).map(
    lambda t: t[1] * t[0] + t[2] * (t[0] // 2)
)

huge_numbers = st.one_of(
    st.integers(4000, 6000).map(lambda n: "9" * n),
    st.integers(3000, 5000).map(lambda n: "0x" + "f" * n),
    st.sampled_from(["1e999999", "-1e-999999", "9" * 5000 + ".5", "10**10**10"]),
)
agent_text = st.one_of(st.text(max_size=200), fragments, nested.map(lambda s: "Action: " + s), huge_numbers.map(lambda s: "Action: " + s))
# Lone surrogates reach the kit when a server sends half of an escaped pair; hypothesis leaves them out of st.text() by default.
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
loop_text = st.one_of(agent_text, st.tuples(agent_text, surrogates).map("".join))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
literal_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=5) | st.complex_numbers(),
    lambda children: (
        st.lists(children, max_size=3) | st.tuples(children) | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text`, or `text` cut at a random point, or with junk inserted at one."""
    how = draw(st.sampled_from(["as is", "cut", "insert"]))
    if how == "as is" or not text:
        return text
    at = draw(st.integers(0, len(text)))
    return text[:at] if how == "cut" else text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]


@st.composite
def multiwoz_calls(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(APIS)) | st.text(max_size=10) | literal_values)
    parameters = draw(st.dictionaries(st.text(max_size=12), literal_values, max_size=4) | literal_values)
    payload = draw(mutated(repr({"api_name": name, "input_parameters": parameters})))
    thought = draw(st.sampled_from(["- Thought: t\n", "Thought: t\n", ""]))
    return f"{thought}- Action: API call{payload}"


@st.composite
def tau_actions(draw: st.DrawFn) -> str:
    from tau_env.tools import registry

    name = draw(st.sampled_from(sorted(registry("airline"))) | st.text(max_size=10) | st.just(RESPOND))
    keys = st.text(max_size=12) | st.sampled_from(["user_id", "reservation_id", "expression", "data", "content"])
    arguments = draw(st.dictionaries(keys, json_values, max_size=4))
    text = json.dumps({"name": name, "arguments": arguments}) if draw(st.booleans()) else repr({"name": name, "arguments": arguments})
    return "Thought:\nt\nAction:\n" + draw(mutated(text))


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(reference_folders: Path, data_home: Path) -> Sandbox:
    """A MultiWOZ sandbox in memory (from a reference folder; it never writes back)."""
    return Sandbox.from_folder(reference_folders / corpus.SANDBOX_FOLDER, rng=random.Random(0))


@pytest.fixture(autouse=True)
def no_sentinel(tmp_path: Path) -> Iterator[None]:
    """Nothing that ran an injection payload: the sentinel appears neither here nor in the working folder."""
    yield
    assert not (tmp_path / SENTINEL).exists() and not (Path.cwd() / SENTINEL).exists()


# --- MultiWOZ ----------------------------------------------------------------------------------


def check_multiwoz(text: str, sandbox: Sandbox) -> None:
    reply = protocol.normalise_reply(text)
    step = protocol.interpret(reply, sandbox)
    assert isinstance(step.observation, str) and step.observation.startswith(OBSERVATION_PREFIXES)
    assert corpus.multiwoz_kind(step) in MULTIWOZ_KINDS
    assert step.is_talk == (step.observation == protocol.TALK_DONE)
    assert step.api_name is None or step.api_name in APIS
    assert isinstance(protocol.talk_text(reply), str)
    if step.payload is not None:
        call = mw_analysis.parse_call(step.payload)
        assert call is None or ("api_name" in call and "input_parameters" in call)
    report = parse_multiwoz_reply(text)
    assert report["kind"] in REPORT_KINDS and isinstance(report["thought"], str) and isinstance(report["action"], str)


@FUZZ
@given(text=agent_text)
def test_multiwoz_protocol_takes_any_text(text: str, sandbox: Sandbox) -> None:
    check_multiwoz(text, sandbox)


@FUZZ
@given(text=multiwoz_calls())
def test_multiwoz_protocol_takes_any_call_payload(text: str, sandbox: Sandbox) -> None:
    check_multiwoz(text, sandbox)
    reply = protocol.normalise_reply(text)
    action = protocol.action_text(reply)
    if not protocol.is_api_call(action):
        return  # a fragment inserted into the payload moved the last `Action:`
    call = mw_analysis.parse_call(protocol.api_payload(action))
    if call is None:
        return
    known = isinstance(call["api_name"], str) and call["api_name"] in APIS
    if known and isinstance(call["input_parameters"], dict):
        # it ran (or the API refused its parameters); parse_error: parameters JSON cannot carry (bytes, complex)
        assert corpus.multiwoz_kind(protocol.interpret(reply, sandbox)) in ("call", "failed_call", "parse_error")


@FUZZ
@given(texts=st.lists(multiwoz_calls() | agent_text, max_size=6))
def test_multiwoz_error_analysis_takes_any_call_log(texts: list[str], data_home: Path) -> None:
    payloads = [protocol.api_payload(t) if "API call" in t else t for t in texts]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "api_call_log.json").write_text(json.dumps([{"call_log": p} for p in payloads]))
        counts = mw_analysis.api_misuse(Path(folder))
    assert counts["total_api_calls"] == len(texts)
    assert all(isinstance(v, int) and v >= 0 for v in counts.values())


# --- Tau ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tau_episode(data_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    env = environment.get("tau", max_steps=10**9)
    assert isinstance(env, TauEnvironment)
    folder = tmp_path_factory.mktemp("tau") / "airline_0_0"
    return env, env.open_episode(env.scenario(*corpus.TAU_TASK), folder, random.Random(0))


def check_tau(text: str, env: Any, episode: Any) -> None:
    name, kwargs = parse_action(text)
    tail = text.split("Action:")[-1].strip()
    try:
        parsed = json.loads(tail)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and "name" in parsed and isinstance(parsed.get("arguments"), dict):
        assert (name, kwargs) == (str(parsed["name"]), parsed["arguments"])
    else:
        assert (name, kwargs) == (RESPOND, {"content": tail})
    assert trajectory_actions([{"role": "assistant", "content": text}]) == [{"name": name, "kwargs": kwargs}]
    result = env.act(episode, text)
    if name == RESPOND:
        assert result.turn_over and result.observation is None and isinstance(result.user_text, str)
    else:
        assert isinstance(result.observation, str) and result.observation.startswith("API output: ")
    calls = tau_analysis.predicted_calls([{"role": "assistant", "content": text}])
    assert all(isinstance(c["name"], str) and isinstance(c["arguments"], dict) for c in calls)
    misuse = tau_analysis.api_misuse("airline", calls)
    assert all(isinstance(v, int) and v >= 0 for v in misuse.values())
    assert tau_analysis._shallow_duplicates(calls) >= 0
    report = parse_tau_reply(text)
    assert report["kind"] in REPORT_KINDS and isinstance(report["action"], str)


@FUZZ
@given(text=agent_text)
def test_tau_parsing_takes_any_text(text: str, tau_episode: Any) -> None:
    check_tau(text, *tau_episode)


@FUZZ
@given(text=tau_actions())
def test_tau_tools_take_any_action(text: str, tau_episode: Any) -> None:
    check_tau(text, *tau_episode)


@FUZZ
@given(arguments=st.dictionaries(st.text(max_size=5) | st.integers(), literal_values, max_size=4))
def test_tau_analysis_takes_python_literal_actions(arguments: dict[Any, Any]) -> None:
    """The analysis' literal fallback yields what JSON cannot hold (sets, bytes, int keys): counted, not crashed on."""
    text = "Action:\n" + repr({"name": "book_reservation", "arguments": arguments})
    calls = tau_analysis.predicted_calls([{"role": "assistant", "content": text}] * 2)
    if "nan" not in text and "inf" not in text:  # repr of a float nan or inf is not a literal
        assert calls == [{"name": "book_reservation", "arguments": arguments}] * 2
    counts = tau_analysis.api_misuse("airline", calls)
    assert counts["total_api_calls"] == len(calls)
    assert counts["duplicate_calls"] == tau_analysis._shallow_duplicates(calls) == (1 if calls else 0)


def test_calculate_stays_fast_on_towers_of_powers() -> None:
    """v1's eval ran `9**9**9**9` for ever, in the dialogue's event loop; the results eval gave in
    reasonable time are unchanged."""
    started = time.monotonic()
    for expression in ("9**9**9**9", "99**99**99", "9**9999999", "(2**60000)*(2**60000)", "2**-99999999"):
        assert Calculate.invoke({}, expression) in ("Error: int too large to convert to float", "0.0"), expression
    assert time.monotonic() - started < 2
    assert Calculate.invoke({}, "2**2000/2**1999") == "2.0"
    assert Calculate.invoke({}, "2 * (3 + 4.5)") == "15.0"
    assert Calculate.invoke({}, "(-3)**3") == "-27.0"
    assert Calculate.invoke({}, "1**99999999999") == "1.0"


# --- structured output -------------------------------------------------------------------------

SCHEMAS: list[type[BaseModel] | dict[str, Any]] = [
    Verdict,
    ReasonedVerdict,
    Selection,
    Complaints,
    ExtraGoals,
    {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "integer"}}}},
]
WRAPPERS = (st.sampled_from(["", "Sure! ", "```json\n"]), st.sampled_from(["", "\n```", " hope it helps"]))
HELPER_KEYS = ("result", "thought", "selected_numbers", "reasoning", "utterances")
json_texts = st.one_of(
    agent_text,
    json_values.map(json.dumps).flatmap(mutated),
    st.tuples(WRAPPERS[0], json_values.map(json.dumps), WRAPPERS[1]).map("".join),
    st.fixed_dictionaries({key: json_values for key in HELPER_KEYS}).map(json.dumps),
)


@FUZZ
@given(text=json_texts)
def test_structured_parser_takes_any_text(text: str) -> None:
    try:
        structured.extract_json(text)
    except structured.NoJSON:
        pass
    for schema in SCHEMAS:
        try:
            value = structured.validate(schema, text)
        except ValueError as exc:  # the documented error (NoJSON is one): a reason the re-ask shows the model
            assert str(exc)
            continue
        if isinstance(schema, dict):
            assert isinstance(value, dict) and all(isinstance(i, int) and not isinstance(i, bool) for i in value["items"])
        else:
            assert isinstance(value, schema)


def test_structured_parser_is_quick_on_bracket_floods() -> None:
    started = time.monotonic()
    for text in ("[" * 100_000, "{" * 100_000, '{"a": 1, ' * 20_000, "[1," * 30_000):
        with pytest.raises(structured.NoJSON):
            structured.extract_json(text)
    assert time.monotonic() - started < 5


class TextModel(BaseChatModel):
    """A model whose replies are given: the real BaseChatModel machinery (prompt-and-parse, re-asks)."""

    backend = "fuzz"
    cacheable = False

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        super().__init__("fuzz:model", "fuzz", "fuzz:endpoint", structured_mode="prompt")

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return Completion(text, 1, 1, "stop")


@FUZZ
@given(replies=st.lists(json_texts, min_size=1, max_size=3))
def test_structured_call_gives_a_valid_object_or_one_model_error(replies: list[str]) -> None:
    model = TextModel(replies)
    try:
        value = asyncio.run(model.structured([{"role": "user", "content": "Pick."}], Selection, attempts=3))
    except ModelError as exc:
        assert "gave no valid Selection in 3 attempts" in str(exc)
    else:
        assert isinstance(value, Selection)


# --- injections and the corpus -----------------------------------------------------------------


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_payloads_are_parsed_never_run(payload: str, sandbox: Sandbox, tau_episode: Any) -> None:
    for text in (
        f"- Action: API call{payload}",
        f"- Action: API call{{'api_name': {payload}, 'input_parameters': {{}}}}",
        f"- Action: API call{{'api_name': 'restaurant_retrieve', 'input_parameters': {{'food': {payload}}}}}",
        f"- Action: Talk({payload})",
    ):
        check_multiwoz(text, sandbox)
        assert corpus.multiwoz_kind(protocol.interpret(protocol.normalise_reply(text), sandbox)) in ("parse_error", "talk")
        assert mw_analysis.parse_call(text.split("API call", 1)[-1]) is None
    for text in (
        f"Action:\n{payload}",
        "Action:\n" + json.dumps({"name": "calculate", "arguments": {"expression": payload}}),
        "Action:\n" + json.dumps({"name": payload, "arguments": {}}),
        f"Action:\n{{'name': {payload}, 'arguments': {{}}}}",
    ):
        check_tau(text, *tau_episode)
    assert Calculate.invoke({}, payload) == "Error: invalid characters in expression"
    with pytest.raises(ValueError):
        structured.validate(Verdict, payload)


def load(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


MULTIWOZ_CORPUS = load(corpus.MULTIWOZ_FILE)
TAU_CORPUS = load(corpus.TAU_FILE)


def test_the_corpus_is_small_and_sourced() -> None:
    assert 20 <= len(MULTIWOZ_CORPUS) and 10 <= len(TAU_CORPUS)
    assert corpus.MULTIWOZ_FILE.stat().st_size < 100_000 and corpus.TAU_FILE.stat().st_size < 100_000
    from_references = [e for e in MULTIWOZ_CORPUS if e["source"] != "hand-written"]
    assert len(from_references) >= 20
    pattern = re.compile(r"multiwoz_env/train_datasets/[\w.]+/[\w.]+/agent_response_list\.json#\d+")
    assert all(pattern.fullmatch(e["source"]) for e in from_references)
    kinds = {e["expected"]["kind"] for e in MULTIWOZ_CORPUS}
    assert {"parse_error", "format_error", "unknown_api", "failed_call", "talk", "talk_format_error", "unsupported"} <= kinds


@pytest.mark.parametrize("entry", MULTIWOZ_CORPUS, ids=[f"{i}-{e['why'][:30]}" for i, e in enumerate(MULTIWOZ_CORPUS)])
def test_multiwoz_corpus_replays(entry: dict[str, Any], reference_folders: Path, data_home: Path) -> None:
    if entry["source"] != "hand-written":
        recorded = json.loads((reference_folders.parents[1] / entry["source"].split("#")[0]).read_text())
        assert recorded[int(entry["source"].split("#")[1])] == entry["text"]  # still the reference's own reply
    assert corpus.multiwoz_outcome(entry["text"], reference_folders / entry["sandbox"]) == entry["expected"]


@pytest.mark.parametrize("entry", TAU_CORPUS, ids=[f"{i}-{e['why'][:30]}" for i, e in enumerate(TAU_CORPUS)])
def test_tau_corpus_replays(entry: dict[str, Any], data_home: Path) -> None:
    assert corpus.tau_outcome(entry["text"]) == entry["expected"]


# --- the whole loop ----------------------------------------------------------------------------


class ReplyModel(BaseChatModel):
    """An agent that says the drawn texts in order, then a well-formed talk for ever."""

    backend = "fuzz"
    cacheable = False

    def __init__(self, replies: list[str], closing: str) -> None:
        self.replies = list(replies)
        self.closing = closing
        super().__init__("fuzz:agent", "fuzz", "fuzz:agent")

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        return Completion(self.replies.pop(0) if self.replies else self.closing, 1, 1, "stop")


CLOSING = {
    "multiwoz": '- Thought: done\n- Action: Talk("Is there anything else?")',
    "tau": 'Action:\n{"name": "respond", "arguments": {"content": "Done."}}',
}
SCENARIO = {"multiwoz": "PMUL0095", "tau": "airline_0"}
corpus_texts = st.sampled_from([e["text"] for e in MULTIWOZ_CORPUS + TAU_CORPUS])


def run_dialogue(env_name: str, replies: list[str], behaviour: str, seed: int) -> None:
    env = environment.get(env_name, max_steps=6)
    scenario = env.scenarios("test", ids=[SCENARIO[env_name]])[0]
    stop = env.user_profile.stop_token
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / (f"{scenario.id}_0" if env_name == "tau" else f"{scenario.id}.json_0")
        rng = random.Random(seed)
        episode = env.open_episode(scenario, folder, rng, model_name="fuzz")
        calls = ScriptedCalls(user=["I need help with my booking, please.", f"Thanks, that is all. {stop}"])
        models = calls.models()
        user = UserSimulator(
            scenario.goal_text,
            env.goal_items(scenario),
            Behaviors.parse(behaviour),
            models,
            rng,
            profile=env.user_profile,
            folder=folder,
            service_context=env.service_context(scenario),
        )
        agent = ReplyModel(replies, CLOSING[env_name])

        async def dialogue() -> Any:
            record = await converse(env, episode, user, agent, folder, AgentSettings())
            judge_model, _ = models.get("judge")
            await judge_or_unaligned(env, user, record, judge_model, folder.name)
            return record

        record = asyncio.run(dialogue())
        assert record.ended_by in ("stop", "budget")
        messages = json.loads((folder / "dial_hist_system_list.json").read_text(encoding="utf-8"))
        said = [m["content"] for m in messages if m["role"] == "assistant"]
        assert len(said) == len(record.responses) >= 1
        assert all("\ud800" > c or c > "\udfff" for text in said for c in text)  # lone surrogates were replaced
        passed, _ = env.outcome(env.grade(folder))
        assert isinstance(passed, bool)
        assert (folder / "goal_align_result.json").is_file()
        assert not (folder / SENTINEL).exists()


BEHAVIOURS = st.sampled_from(["normal", "tangential+impatience", "incomplete"])


@LOOP
@given(replies=st.lists(loop_text | corpus_texts, min_size=1, max_size=5), behaviour=BEHAVIOURS, seed=st.integers(0, 99))
def test_multiwoz_loop_survives_any_agent_text(replies: list[str], behaviour: str, seed: int, data_home: Path) -> None:
    run_dialogue("multiwoz", replies, behaviour, seed)


@LOOP_TAU
@given(replies=st.lists(loop_text | tau_actions() | corpus_texts, min_size=1, max_size=5), behaviour=BEHAVIOURS, seed=st.integers(0, 99))
def test_tau_loop_survives_any_agent_text(replies: list[str], behaviour: str, seed: int, data_home: Path) -> None:
    run_dialogue("tau", replies, behaviour, seed)


# --- a kit fix found by fuzzing: "please" removal in linear time --------------------------------

PLEASE_PIECES = [" ", ",", "please", "Please", "PLEASE", "pleased", "a", "\n", "\u2003", "\x1c", "_please", "x,"]
OLD_PLEASE = re.compile(r"(,\s*|\s+)?\bplease\b,?", re.IGNORECASE)


@FUZZ
@given(
    text=st.lists(
        st.sampled_from(PLEASE_PIECES) | st.text(max_size=3),
        max_size=15,
    ).map("".join)
)
def test_strip_please_is_the_old_regex(text: str) -> None:
    assert strip_please(text) == OLD_PLEASE.sub("", text)


def test_remove_please_is_linear_on_long_whitespace() -> None:
    started = time.monotonic()
    assert remove_please(" " * 200_000 + "Hurry, please!") == "Hurry!"
    assert time.monotonic() - started < 1
