"""The fuzz corpus of agent outputs: what each parser makes of them, and how the corpus was built.

`corpus/multiwoz_agent_outputs.json` holds the malformed or odd agent replies of the reference
dialogues (the 80 published training folders in the data mirror: replies the protocol rejects,
payloads naming APIs that do not exist or parameters the APIs do not take, Talk texts with
parentheses and quotes) and hand-written ones the references lack (injection payloads, unhashable
and huge API names, deep nesting, NUL bytes). `corpus/tau_agent_outputs.json` is hand-written
(no Tau reference dialogues ship with the data). Each entry records where it came from and its
`expected` outcome, written by `build()` from the parsers' behaviour after it was checked by hand;
`tests/reliability/test_fuzz_parsers.py` replays every entry and compares.

Rebuild (only after a deliberate parser change, then review the diff):
    NCUSIM_DATA_MIRROR=<mirror> NCUSIM_HOME=<a kit home with the data> python -m tests.reliability.parser_corpus
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from multiwoz_env import analysis as mw_analysis
from multiwoz_env import protocol
from multiwoz_env.sandbox import Sandbox
from multiwoz_env.viewer import parse_reply as parse_multiwoz_reply
from tau_env.viewer import parse_reply as parse_tau_reply

CORPUS = Path(__file__).with_name("corpus")
MULTIWOZ_FILE = CORPUS / "multiwoz_agent_outputs.json"
TAU_FILE = CORPUS / "tau_agent_outputs.json"
REFERENCE_ROOT = "NCUser/multiwoz_env/train_datasets"
SANDBOX_FOLDER = "multiwoz_train_dataset/MUL0001.json_0"  # the sandbox of hand-written entries
SENTINEL = "ncusim-fuzz-sentinel"  # a payload that ran would create this file in the working folder
TAU_TASK = ("airline", 0)


def jsonable(value: Any) -> Any:
    """The value as the corpus file stores it (what JSON cannot hold becomes its repr)."""
    return json.loads(json.dumps(value, default=repr))


def multiwoz_kind(step: protocol.Step) -> str:
    if step.is_talk:
        return "talk"
    if step.observation == protocol.TALK_FORMAT_ERROR:
        return "talk_format_error"
    if step.observation == protocol.UNSUPPORTED_ACTION:
        return "unsupported"
    if step.payload is not None and step.observation == protocol.FORMAT_ERROR:
        return "format_error"
    if step.payload is not None and step.observation == protocol.parse_error(step.payload):
        return "parse_error"
    if step.api_name is None and "does not exist" in step.observation:
        return "unknown_api"
    if step.error_call is not None:
        return "failed_call"
    return "call"


def multiwoz_outcome(text: str, sandbox_folder: Path) -> dict[str, Any]:
    """What the protocol, the error analysis and the report make of one MultiWOZ agent reply."""
    sandbox = Sandbox.from_folder(sandbox_folder, rng=random.Random(0))
    reply = protocol.normalise_reply(text)
    step = protocol.interpret(reply, sandbox)
    call = mw_analysis.parse_call(step.payload) if step.payload is not None else None
    report = parse_multiwoz_reply(text)
    return jsonable(
        {
            "kind": multiwoz_kind(step),
            "observation": step.observation,
            "user_text": protocol.talk_text(reply) if step.is_talk else None,
            "api_name": step.api_name,
            "analysis_parses": None if step.payload is None else call is not None,
            "report_kind": report["kind"],
        }
    )


def tau_outcome(text: str) -> dict[str, Any]:
    """What the Tau environment (one step on a fresh episode), its analysis and the report make of one reply."""
    from shared import environment
    from tau_env import analysis as tau_analysis
    from tau_env.environment import TauEnvironment, parse_action

    env = environment.get("tau")
    assert isinstance(env, TauEnvironment)
    name, kwargs = parse_action(text)
    with tempfile.TemporaryDirectory() as folder:
        episode = env.open_episode(env.scenario(*TAU_TASK), Path(folder), random.Random(0))
        result = env.act(episode, text)
    return jsonable(
        {
            "name": name,
            "kwargs": kwargs,
            "turn_over": result.turn_over,
            "user_text": result.user_text,
            "observation": result.observation,
            "analysis_calls": tau_analysis.predicted_calls([{"role": "assistant", "content": text}]),
            "report_kind": parse_tau_reply(text)["kind"],
        }
    )


# --- building the corpus ------------------------------------------------------------------------


def _mw(action: str) -> str:
    return "- Thought: t\n- Action: " + action


def _tau(action: dict[str, Any] | str) -> str:
    return "Action:\n" + (action if isinstance(action, str) else json.dumps(action))


INJECT = f"__import__('os').system('touch {SENTINEL}')"
HAND_MULTIWOZ = [
    ("Talk without its closing parenthesis", _mw('Talk("Your table is booked')),
    ("Talk with a colon instead of parentheses", _mw("Talk: your table is booked.")),
    ("a Talk that mentions an API call (FIDELITY F7)", _mw('Talk("I will make an API call for you now.")')),
    ("no Action at all", "- Thought: I should look up restaurants first."),
    ("code injection in the api_name", _mw(f"API call{{'api_name': {INJECT}, 'input_parameters': {{}}}}")),
    ("code injection in a value", _mw(f"API call{{'api_name': 'restaurant_retrieve', 'input_parameters': {{'food': {INJECT}}}}}")),
    ("a call built with dict() (FIDELITY F5)", _mw("API call dict(api_name='restaurant_retrieve', input_parameters={})")),
    (
        "an expression as a value (FIDELITY F5)",
        _mw("API call{'api_name': 'restaurant_retrieve', 'input_parameters': {'food': 'it' + 'al'}}"),
    ),
    ("a list payload naming the keys (FIDELITY F8)", _mw("API call['api_name', 'input_parameters']")),
    ("an unhashable api_name (FIDELITY F8)", _mw("API call{'api_name': ['restaurant_retrieve'], 'input_parameters': {}}")),
    ("an api_name of 4000 hex digits (str() refuses it)", _mw("API call{'api_name': 0x" + "f" * 4000 + ", 'input_parameters': {}}")),
    (
        "JSON null as a value (the original's transport error)",
        _mw("API call{'api_name': 'restaurant_retrieve', 'input_parameters': {'food': None}}"),
    ),
    ("300 nested brackets (the parser's nesting limit)", _mw("API call" + "[" * 300 + "]" * 300)),
    ("NUL bytes inside a Talk", _mw('Talk("Booked\x00 for\x00 you.")')),
    (
        "two Actions: the last one counts",
        _mw("API call{'api_name': 'show_app_description', 'input_parameters': {}}\n- Action: Talk(\"Done.\")"),
    ),
    ("Thought without the dash (normalised)", 'Thought: greet\nAction: Talk("Hello!")'),
    ("a helper call, well formed", _mw("API call{'api_name': 'show_app_description', 'input_parameters': {}}")),
]

HAND_TAU = [
    ("a respond, well formed", "Thought:\nI greet.\n" + _tau({"name": "respond", "arguments": {"content": "Hello! How can I help?"}})),
    ("no Action at all", "Sure, I can help you with your reservation."),
    ("a Python dict instead of JSON", "Thought:\nt\n" + _tau("{'name': 'respond', 'arguments': {'content': 'hi'}}")),
    ("JSON without arguments (FIDELITY T4)", _tau({"name": "get_user_details"})),
    ("arguments as a list (FIDELITY T4)", _tau({"name": "get_user_details", "arguments": ["mia_li_3668"]})),
    ("a number as the tool name", _tau({"name": 5, "arguments": {}})),
    ("text after the JSON", _tau({"name": "respond", "arguments": {"content": "x"}}) + " Let me know if that works!"),
    ("a code fence around the JSON", _tau("```json\n" + json.dumps({"name": "respond", "arguments": {"content": "x"}}) + "\n```")),
    ("JSON nested 2000 deep (past the decoder's recursion limit)", _tau("[" * 2000 + "]" * 2000)),
    ("code injection in calculate", _tau({"name": "calculate", "arguments": {"expression": INJECT}})),
    ("calculate of a tower of powers (would run for ever)", _tau({"name": "calculate", "arguments": {"expression": "9**9**9**9"}})),
    ("calculate, well formed", _tau({"name": "calculate", "arguments": {"expression": "2 * (3 + 4.5)"}})),
    (
        "a `data` argument (the tools' own parameter)",
        _tau({"name": "get_user_details", "arguments": {"data": {}, "user_id": "mia_li_3668"}}),
    ),
    ("the transfer without its summary", _tau({"name": "transfer_to_human_agents", "arguments": {}})),
    ("NUL bytes in a respond", _tau({"name": "respond", "arguments": {"content": "a\x00b"}})),
    ("JSON null as the action", "Action: null"),
    (
        "two Actions: the last one counts",
        _tau({"name": "think", "arguments": {"thought": "x"}}) + "\n" + _tau({"name": "respond", "arguments": {"content": "ok"}}),
    ),
    ("an unknown tool", _tau({"name": "book_flight_now", "arguments": {"flight": "HAT001"}})),
]


def _reference_entries(mirror: Path) -> list[dict[str, Any]]:
    """Replies of the reference dialogues worth keeping: every one the protocol rejects or that calls an
    unknown API, the first few calls with invented parameters or constraint violations, and Talk
    texts with parentheses or many quotes (FIDELITY F9)."""
    root = mirror / REFERENCE_ROOT
    docs = {doc["api_name"]: doc for doc in mw_analysis.resources.api_docs()}
    picked: list[dict[str, Any]] = []
    quotas = {"invented_parameter": 6, "constraint_violation": 4, "talk_parentheses": 8, "talk_quotes": 2}
    seen: set[str] = set()
    for path in sorted(root.glob("*/*/agent_response_list.json")):
        folder = path.parent
        for index, text in enumerate(json.loads(path.read_text())):
            if text in seen:
                continue
            reply = protocol.normalise_reply(text)
            action = protocol.action_text(reply)
            why = None
            if protocol.is_api_call(action):
                call = mw_analysis.parse_call(protocol.api_payload(action))
                if call is None:
                    why = "rejected_payload"
                elif call["api_name"] in mw_analysis.HELPER_APIS:
                    continue
                elif call["api_name"] not in docs:
                    why = "unknown_api"
                else:
                    documented = {p["name"]: p for p in docs[call["api_name"]]["parameters"]}
                    params = call["input_parameters"] if isinstance(call["input_parameters"], dict) else {}
                    if any(key not in documented for key in params):
                        why = "invented_parameter"
                    elif any(mw_analysis._violates(documented[key], value) for key, value in params.items()):
                        why = "constraint_violation"
            else:
                said = protocol.talk_text(reply)
                if ")" in said:
                    why = "talk_parentheses"
                elif said.count('"') > 2 or said.count("'") > 4:
                    why = "talk_quotes"
            if why is None or (why in quotas and quotas[why] == 0):
                continue
            if why in quotas:
                quotas[why] -= 1
            seen.add(text)
            source = f"{folder.relative_to(mirror / 'NCUser')}/agent_response_list.json#{index}"
            picked.append({"source": source, "why": why, "sandbox": str(folder.relative_to(root)), "text": text})
    return picked


def build(mirror: Path) -> None:
    root = mirror / REFERENCE_ROOT
    entries = _reference_entries(mirror)
    entries += [{"source": "hand-written", "why": why, "sandbox": SANDBOX_FOLDER, "text": text} for why, text in HAND_MULTIWOZ]
    for entry in entries:
        entry["expected"] = multiwoz_outcome(entry["text"], root / entry["sandbox"])
    CORPUS.mkdir(exist_ok=True)
    MULTIWOZ_FILE.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n")
    tau = [{"source": "hand-written", "why": why, "text": text, "expected": tau_outcome(text)} for why, text in HAND_TAU]
    TAU_FILE.write_text(json.dumps(tau, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(entries)} MultiWOZ and {len(tau)} Tau entries written to {CORPUS}")


if __name__ == "__main__":
    import os

    build(Path(os.environ.get("NCUSIM_DATA_MIRROR") or sys.exit("set NCUSIM_DATA_MIRROR")))
