"""The agent's action protocol: parse one agent reply, execute it, and say what the agent sees.

Observation strings are the original's, byte for byte (a fine-tuned agent was trained on them):
`Observation: <repr of the API result>` for an executed call and `# Observation: <repr of an
error dict> ` (with the trailing space) for a rejected one. What differs from the original is
listed in FIDELITY.md: payloads are parsed with `ast.literal_eval` (never executed), the payload
is the text after "API call" (not after the last "call"), a Talk that merely mentions "API call"
stays a Talk, payloads of the wrong shape get the format observation instead of crashing the
dialogue, and the agent's utterance reaches the user without every ")" deleted.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

from multiwoz_env.apis import APIS
from multiwoz_env.sandbox import Sandbox

MAX_REASONING = 30  # agent steps per dialogue, API calls and talks alike

TALK_FORMAT_ERROR = "Observation: Error message from system: Talk action should be 'Talk(<Your utterence>)'. Please follow it properly."
UNSUPPORTED_ACTION = "Observation: 'Error message from system: The action you've choosed is not supported for this system.'"
TALK_DONE = "Observation: {}"
INVALID_INPUT = "Invalid input parameter detected. Check the API documentation."


def error_observation(message: str) -> str:
    """`# Observation: ` + Python repr of the error dict + one space (repr picks the quotes)."""
    return f"# Observation: {str({'success': False, 'result': {'message': message}})} "


def parse_error(payload: str) -> str:
    return error_observation(
        f"'{payload}' is not a valid to parse the API call payload. Make sure to follow the 'API call' instruction properly."
    )


FORMAT_ERROR = error_observation("Payload format is invalid. Please contain 'api_name' and 'input_parameters'")


@dataclass
class Step:
    """What one agent reply did."""

    observation: str
    is_talk: bool = False  # a valid Talk ends the agent's turn
    payload: str | None = None  # the API-call text, logged to api_call_log.json
    api_name: str | None = None
    counted_api_call: bool = False  # n_api_call: the API ran and answered
    process_reward: float = 0.0
    error_call: str | None = None  # error_call.txt content when the API raised
    raised: BaseException | None = None
    result: dict[str, Any] | None = None  # the API's return value


def normalise_reply(reply: str) -> str:
    """The original's one normalisation: `Thought: ` becomes `- Thought: ` when the dash is missing."""
    if "Thought: " in reply and "- Thought: " not in reply:
        return reply.replace("Thought: ", "- Thought: ")
    return reply


def action_text(reply: str) -> str:
    return reply.split("Action:")[-1].strip()


def api_payload(action: str) -> str:
    return action.split("API call", 1)[1].strip()


def is_api_call(action: str) -> bool:
    return "API call" in action and not action.startswith("Talk")


def interpret(reply: str, sandbox: Sandbox) -> Step:
    """Parse and execute one (normalised) agent reply against the sandbox."""
    action = action_text(reply)
    if is_api_call(action):
        return run_api_call(api_payload(action), sandbox)
    if "Talk" in action:
        if "Talk(" in action and action.endswith(")"):
            return Step(TALK_DONE, is_talk=True, process_reward=1.0)
        return Step(TALK_FORMAT_ERROR)
    return Step(UNSUPPORTED_ACTION)


def run_api_call(payload: str, sandbox: Sandbox) -> Step:
    try:
        parsed = ast.literal_eval(payload)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Step(parse_error(payload), payload=payload)
    if not isinstance(parsed, dict) or "api_name" not in parsed or "input_parameters" not in parsed:
        return Step(FORMAT_ERROR, payload=payload)
    api_name = parsed["api_name"]
    try:
        known = api_name in APIS
    except TypeError:  # an unhashable name (the original crashed here)
        known = False
    if not known:
        return Step(error_observation(f"API {_shown(api_name)} does not exist. Please check the name properly."), payload=payload)
    try:
        input_json = json.dumps(parsed["input_parameters"])
    except (TypeError, ValueError):
        return Step(parse_error(payload), payload=payload, api_name=api_name)
    return execute(api_name, input_json, sandbox, payload)


def _shown(value: Any) -> str:
    """`str(value)`, as the original's f-string showed the name; a value holding an int too long for
    `str()` (Python's 4300-digit limit, e.g. a 0x-literal of 4000 digits) is named by its type
    instead of raising out of the agent's step."""
    try:
        return str(value)
    except ValueError:
        return f"<{type(value).__name__} too large to show>"


def transport(input_json: str) -> Any:
    """The original's subprocess hop: true/false rewritten everywhere in the JSON text (string
    values included), then read as Python literals, so JSON null is an error ("During Run API")."""
    return ast.literal_eval(input_json.replace("true", "True").replace("false", "False"))


def execute(api_name: str, input_json: str, sandbox: Sandbox, payload: str) -> Step:
    try:
        params = transport(input_json)
    except (ValueError, SyntaxError) as exc:
        stdout = f"During Run API -> {exc}"
        return _failed_call(api_name, input_json, payload, stdout, exc)
    try:
        if not isinstance(params, dict):
            raise TypeError(f"{api_name}() argument after ** must be a mapping, not {type(params).__name__}")
        result = sandbox.call(api_name, params)
    except Exception as exc:  # any API exception: the original printed nothing and exited 1
        return _failed_call(api_name, input_json, payload, "", exc)
    success = isinstance(result, dict) and result.get("success", False) is True
    return Step(
        f"Observation: {str(result).strip()}",
        payload=payload,
        api_name=api_name,
        counted_api_call=True,
        process_reward=1.0 if success else 0.5,
        result=result,
    )


def _failed_call(api_name: str, input_json: str, payload: str, stdout: str, exc: BaseException) -> Step:
    return Step(
        error_observation(INVALID_INPUT),
        payload=payload,
        api_name=api_name,
        process_reward=0.5,
        error_call=api_name + input_json + "\n\n" + stdout,
        raised=exc,
    )


def talk_text(reply: str) -> str:
    """The agent utterance as the user hears it: the argument of the last `Talk(`, quotes kept.

    Only the closing parenthesis of Talk is removed; the original deleted every ")" in the text.
    Without a `Talk(` (budget ran out on a call) the whole reply is passed on.
    """
    text = reply.split("Talk(")[-1].strip()
    if "Talk(" in reply and text.endswith(")"):
        text = text[:-1]
    return text.strip()
