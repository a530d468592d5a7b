"""The agent action protocol (with the original's defects fixed) and one episode's files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from multiwoz_env import protocol
from multiwoz_env.environment import MultiwozEnvironment
from multiwoz_env.sandbox import Sandbox


@pytest.fixture
def sandbox(data_home: Path, tmp_path: Path) -> Sandbox:
    goal = {
        "restaurant": {
            "info": {"food": "indian", "area": "centre"},
            "fail_info": {},
            "book": {"people": "2", "day": "friday", "time": "16:00"},
        }
    }
    return Sandbox.build(tmp_path / "dlg", goal, ["restaurant"], rng=random.Random(1))


def call(sb: Sandbox, text: str) -> protocol.Step:
    return protocol.interpret(protocol.normalise_reply(text), sb)


def test_talk_keeps_inner_parentheses() -> None:
    reply = '- Thought: tell them\n- Action: Talk("Curry Garden (centre) is free at 16:00 (friday).")'
    assert protocol.talk_text(reply) == '"Curry Garden (centre) is free at 16:00 (friday)."'
    assert protocol.talk_text("- Action: API call{'api_name':'x'} (oops)") == "- Action: API call{'api_name':'x'} (oops)"


def test_talk_mentioning_api_call_stays_a_talk(sandbox: Sandbox) -> None:
    step = call(sandbox, '- Thought: x\n- Action: Talk("I will make an API call for you now.")')
    assert step.is_talk and step.observation == "Observation: {}"


def test_payload_after_api_call_not_after_last_call(sandbox: Sandbox) -> None:
    step = call(sandbox, "- Action: API call{'api_name':'restaurant_retrieve','input_parameters':{'name':'recall','area':'centre'}}")
    assert step.observation == "Observation: {'success': True, 'result': []}"
    assert step.payload == "{'api_name':'restaurant_retrieve','input_parameters':{'name':'recall','area':'centre'}}"


def test_json_literals_give_the_repr_quoted_parse_error(sandbox: Sandbox) -> None:
    payload = '{"api_name": "accommodation_retrieve", "input_parameters": {"parking": true}}'
    step = call(sandbox, "- Action: API call" + payload)
    assert step.observation == (
        "# Observation: {'success': False, 'result': {'message': '\\'" + payload + "\\' is not a valid to parse the API call payload. "
        "Make sure to follow the \\'API call\\' instruction properly.'}} "
    )
    assert step.process_reward == 0 and not step.counted_api_call


def test_agent_text_is_never_executed(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for payload in (f"__import__('pathlib').Path('{marker}').touch()", "{'api_name': 'x', 'input_parameters': open('/etc/passwd')}"):
        step = call(sandbox, "- Action: API call" + payload)
        assert "is not a valid to parse the API call payload" in step.observation
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("['api_name', 'input_parameters']", protocol.FORMAT_ERROR),  # the original crashed the dialogue
        ("'api_name input_parameters'", protocol.FORMAT_ERROR),
        ("{'api_name': 'x'}", protocol.FORMAT_ERROR),
        (
            "{'api_name': ['x'], 'input_parameters': {}}",
            protocol.error_observation("API ['x'] does not exist. Please check the name properly."),
        ),
        (
            "{'api_name': 'hotel_book', 'input_parameters': {}}",
            protocol.error_observation("API hotel_book does not exist. Please check the name properly."),
        ),
        ("{'api_name': 'restaurant_retrieve', 'input_parameters': {'area': None}}", protocol.error_observation(protocol.INVALID_INPUT)),
        (
            "{'api_name': 'restaurant_retrieve', 'input_parameters': {'cuisine': 'indian'}}",
            protocol.error_observation(protocol.INVALID_INPUT),
        ),
    ],
)
def test_rejected_payloads(sandbox: Sandbox, payload: str, expected: str) -> None:
    assert call(sandbox, "- Action: API call" + payload).observation == expected


def test_other_actions(sandbox: Sandbox) -> None:
    assert call(sandbox, '- Action: Talk("Hi").').observation == protocol.TALK_FORMAT_ERROR
    assert call(sandbox, "- Action: search the web").observation == protocol.UNSUPPORTED_ACTION
    assert protocol.normalise_reply("Thought: a\nAction: Talk(x)") == "- Thought: a\nAction: Talk(x)"


def test_episode_logs_calls_and_spends_the_budget(data_home: Path, tmp_path: Path) -> None:
    env = MultiwozEnvironment()
    scenario = env.scenarios(ids=["PMUL0095"])[0]
    folder = tmp_path / "PMUL0095.json_0"
    episode = env.open_episode(scenario, folder, random.Random(7), model_name="gpt-4.1-mini")
    assert json.loads((folder / "model_name.json").read_text()) == {"model_name": "gpt-4.1-mini"}
    assert sorted(p.name for p in (folder / "reservation").iterdir()) == [f"{d}_book_db.json" for d in sorted(scenario.domains)]
    messages = env.agent_messages(episode, [{"role": "user", "content": " I need a hotel."}])
    assert messages[0]["role"] == "system" and messages[0]["content"].rstrip().endswith("# Dialogue history:")
    first = env.act(episode, "- Thought: x\n- Action: API call{'api_name':'show_app_description','input_parameters':{}}")
    assert not first.turn_over and first.observation is not None and first.observation.startswith("Observation: {'success': True")
    bad = env.act(episode, "- Action: API call{'api_name':'accommodation_retrieve','input_parameters':{'city':'cambridge'}}")
    assert (folder / "error_call.txt").read_text() == 'accommodation_retrieve{"city": "cambridge"}\n\n'
    assert bad.observation == protocol.error_observation(protocol.INVALID_INPUT)
    talk = env.act(episode, '- Thought: ask\n- Action: Talk("Which area (north or south)?")')
    assert talk.turn_over and talk.user_text == '"Which area (north or south)?"' and not talk.budget_exhausted
    for _ in range(26):
        env.act(episode, "- Action: API call{'api_name':'show_app_description','input_parameters':{}}")
    last = env.act(episode, "- Action: API call{'api_name':'show_app_description','input_parameters':{}}")
    assert last.budget_exhausted and last.turn_over and episode.n_reasoning == 30 and episode.n_api_call == 28
    log = json.loads((folder / "api_call_log.json").read_text())
    assert len(log) == 29 and log[1] == {"call_log": "{'api_name':'accommodation_retrieve','input_parameters':{'city':'cambridge'}}"}
