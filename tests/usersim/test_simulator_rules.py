"""One test per simulator rule, driven by scripted per-call replies and seeded RNGs."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from shared.environment import UserProfile
from shared.errors import ConfigError
from shared.usersim import Behaviors, UserSimulator
from shared.usersim.emotional_acts import remove_please
from shared.usersim.prompt_sets import PBUS_TOPIC_JOIN, UNAVAILABLE_JOIN
from shared.usersim.state import AngerCounter
from tests.support.scripted_calls import ScriptedCalls

ITEMS = ["accommodation-area-north", "accommodation-pricerange-cheap"]
POOL = [f"need the thing for my trip number {i} asap" for i in range(20)]
PROFILE = UserProfile(greeting="Hi! How can I help you today?", stop_token="<END>", agent_prefix="# System: ")
SELECT_ALL = json.dumps({"reasoning": "r", "selected_numbers": [1, 2]})


def make(
    behaviors: str, calls: ScriptedCalls, seed: int = 0, pbus: bool = False, folder: Path | None = None, items: list[str] | None = None
) -> UserSimulator:
    return UserSimulator(
        "You want a cheap hotel in the north.",
        ITEMS if items is None else items,
        Behaviors.parse(behaviors, pbus=pbus),
        calls.models(),
        random.Random(seed),
        profile=PROFILE,
        persona="A retired sailor who loves birds.",
        service_context={"domains": "['accommodation']", "api_catalogue": "[...]"},
        fragment_pool=lambda: POOL,
        folder=folder,
    )


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


def turns(sim: UserSimulator, agent_lines: list[str]) -> list[str]:
    async def go() -> list[str]:
        out = [await sim.first_turn()]
        for line in agent_lines:
            out.append(await sim.reply(line))
        return out

    return run(go())


def test_behaviour_names_and_yaml(tmp_path: Path) -> None:
    assert Behaviors.parse("normal").name == "normal"
    assert Behaviors.parse("impatience+tangential").name == "tangential+emotional_acts"
    assert Behaviors.parse("incomplete+unavailable_service").name == "unavailable_service+fragment_dumping"
    yaml_file = tmp_path / "b.yaml"
    yaml_file.write_text("is_pbus: False\nunavailable_service: False\ntangential: True\nemotional_acts: False\nfragment_dumping: False\n")
    assert Behaviors.from_yaml(yaml_file) == Behaviors(tangential=True)
    with pytest.raises(ConfigError, match="unknown behaviour 'angry'"):
        Behaviors.parse("angry")
    yaml_file.write_text("tangental: true\n")
    with pytest.raises(ConfigError, match="unknown keys: tangental"):
        Behaviors.from_yaml(yaml_file)


def test_pipeline_order_with_every_behaviour() -> None:
    calls = ScriptedCalls(failure_classifier=json.dumps({"result": False}))
    sim = make("tangential+impatience+incomplete", calls)
    turns(sim, ['"Which area?"'])
    assert calls.log == [
        "user",
        "failure_classifier",
        "tangent",
        "merge",
        "style_transfer",
        "tracker",
        "user",
        "failure_classifier",
        "respond_verifier",
        "tangent",
        "merge",
        "style_transfer",
        "tracker",
    ]


def test_turn_events_record_what_each_behaviour_did(tmp_path: Path) -> None:
    calls = ScriptedCalls(failure_classifier=json.dumps({"result": False}))
    sim = make("tangential+impatience+incomplete", calls, folder=tmp_path)
    turns(sim, ['"Which area?"'])
    sim.save()
    events = json.loads((tmp_path / "user_turn_events.json").read_text())
    assert [e["turn"] for e in events] == [0, 1]
    names = [[event["event"] for event in e["events"]] for e in events]
    assert all(n[:2] == ["tangent", "fragmented"] for n in names)  # the verifier said engaged: a new tangent, no complaint
    assert isinstance(events[0]["events"][0]["tangent"], str) and events[0]["events"][0]["tangent"].strip()
    assert [e["conveyed"] for e in events] == [m["dialogue_state"] for m in sim.messages if m["role"] == "assistant"]


def test_normal_user_only_talks_and_tracks(tmp_path: Path) -> None:
    calls = ScriptedCalls(tracker=[json.dumps({"reasoning": "r", "selected_numbers": [2, 2, 9]})])
    sim = make("normal", calls, folder=tmp_path)
    first = turns(sim, [])[0]
    assert first == "I need a cheap hotel in the north."
    assert calls.log == ["user", "tracker"]
    assert sim.state.remaining == ["accommodation-area-north"]
    assert sim.state.used == ["accommodation-pricerange-cheap", "accommodation-pricerange-cheap"]  # duplicates kept
    assert sim.messages[-1] == {"role": "assistant", "content": first, "dialogue_state": ["accommodation-pricerange-cheap"] * 2}
    sim.save()
    assert json.loads((tmp_path / "persona.txt").read_text()) == "A retired sailor who loves birds."
    assert json.loads((tmp_path / "non_coll_config.json").read_text()) == {
        "is_pbus": False,
        "unavailable_service": False,
        "tangential": False,
        "emotional_acts": False,
        "fragment_dumping": False,
    }
    assert (tmp_path / "base_prompt.txt").read_text().startswith("\n\n")
    assert json.loads((tmp_path / "dialogue_state_list.json").read_text())["initial_dialogue_state_list"] == ITEMS
    assert json.loads((tmp_path / "tangential_config.json").read_text()) == {"n_tangential": 0, "n_complain": 0, "utterance_pair": []}


def test_base_model_sees_roles_only_and_the_agent_prefix() -> None:
    calls = ScriptedCalls()
    sim = make("normal", calls)
    turns(sim, ['"Which area?"'])
    chat = [{"role": m["role"], "content": m["content"]} for m in sim.messages[:4]]
    assert chat[1] == {"role": "user", "content": "Hi! How can I help you today?"}
    assert chat[3] == {"role": "user", "content": '# System: "Which area?"'}
    assert 'User: I need a cheap hotel in the north.\n\nAgent: # System: "Which area?"\n\n' in calls.prompts["tracker"][1]


def test_rest_provider_on_early_stop_marks_every_item_used() -> None:
    calls = ScriptedCalls(user="Thanks, bye! <END>", tracker=json.dumps({"reasoning": "r", "selected_numbers": []}))
    sim = make("tangential+impatience+incomplete", calls)
    text = turns(sim, [])[0]
    assert text == "Also, here is everything else you need."
    assert calls.log == ["user", "rest_provider"]  # no behaviour stage runs; nothing is left to track
    assert sim.state.remaining == [] and sim.state.used == ITEMS
    assert "'accommodation-area-north'" in calls.prompts["rest_provider"][0]


def test_bare_stop_with_items_left_goes_to_the_rest_provider() -> None:
    calls = ScriptedCalls(user="<END>")
    sim = make("normal", calls)
    turns(sim, [])
    assert calls.log == ["user", "rest_provider"]
    assert "The user's current utterance:\n\n" in calls.prompts["rest_provider"][0]


def test_ending_check_can_veto_a_stop() -> None:
    calls = ScriptedCalls(
        user=["North and cheap please.", "Great, can you also book it? <END>"],
        tracker=SELECT_ALL,
        ending_check=json.dumps({"result": False}),
    )
    sim = make("normal", calls)
    out = turns(sim, ['"Done."'])
    assert out[1] == "Great, can you also book it? "
    assert calls.log[-2:] == ["user", "ending_check"]
    calls_ok = ScriptedCalls(user=["North and cheap.", "Thanks! <END>"], tracker=SELECT_ALL)
    assert turns(make("normal", calls_ok), ['"Done."'])[1] == "Thanks! <END>"
    calls_bare = ScriptedCalls(user=["North and cheap.", " <END> "], tracker=SELECT_ALL)
    sim_bare = make("normal", calls_bare)
    assert turns(sim_bare, ['"Done."'])[1] == " <END> " and "ending_check" not in calls_bare.log


def test_impatience_can_replace_a_stop_and_continue() -> None:
    calls = ScriptedCalls(
        user=["North and cheap.", "Fine, thanks. <END>"], tracker=SELECT_ALL, failure_classifier=json.dumps({"result": True})
    )
    found = False
    for seed in range(10):
        sim = make("impatience", calls, seed=seed)
        out = turns(sim, ['"Sorry, nothing is available."'])
        if out[1] == "This is ridiculous, hurry up!":
            found = True
            assert "<END>" not in out[1] and sim.state.anger_triggered_last_turn
    assert found


def fail_rate(draws: int, seeds: range) -> float:
    fired = 0
    for seed in seeds:
        calls = ScriptedCalls(failure_classifier=json.dumps({"result": True}))
        sim = make("impatience", calls, seed=seed)
        turns(sim, ['"No."'] * (draws - 1))
        fired += sim.state.fail.fired
    return fired


def test_outburst_probability_starts_at_half() -> None:
    rate = fail_rate(1, range(600)) / 600
    assert 0.44 < rate < 0.56


def test_probability_rises_and_caps_and_levels_follow() -> None:
    counter = AngerCounter()
    seen = []
    for _ in range(4):
        seen.append((counter.probability, counter.level))
        counter.fired += 1
    assert seen == [(0.5, "Mildly Angry"), (0.6, "Moderately Angry"), (0.7, "Extremely Angry"), (0.7, "Extremely Angry")]
    # Statistically: over 12 failure turns the long-run rate approaches the 0.7 cap.
    total = fail_rate(12, range(150))
    assert 0.6 < total / (150 * 12) < 0.72


def test_outburst_prompt_carries_act_and_level() -> None:
    calls = ScriptedCalls(failure_classifier=json.dumps({"result": True}))
    for seed in range(40):
        sim = make("impatience", calls, seed=seed)
        turns(sim, ['"No."'] * 5)
    prompts = calls.prompts["outburst"]
    # Every prompt lists the three levels, then names the current one (as the original's did).
    assert all(all(level in p for level in ("Mildly Angry", "Moderately Angry", "Extremely Angry")) for p in prompts)
    assert any("now at the level Mildly Angry." in p for p in prompts) and any("now at the level Extremely Angry." in p for p in prompts)
    assert {act for act in ("belligerent abuse", "threat", "urge") if any(f"Act: {act} " in p for p in prompts)} == {
        "belligerent abuse",
        "threat",
        "urge",
    }


def test_delay_branch_when_nothing_remains() -> None:
    calls = ScriptedCalls(user=["North and cheap.", "Is it booked yet?"], tracker=SELECT_ALL)
    rates = 0
    for seed in range(300):
        sim = make("impatience", calls, seed=seed)
        turns(sim, ['"Let me check."'])
        rates += sim.state.delay.fired
        assert sim.state.fail.fired == 0
    assert 0.42 < rates / 300 < 0.58
    assert "failure_classifier" in calls.log  # turn 1 had items left: failure branch, judged against the greeting
    assert calls.prompts["failure_classifier"][0].count("Hi! How can I help you today?") == 1


def test_cynical_mode_after_apology_following_a_failure_turn() -> None:
    calls = ScriptedCalls(
        user=["North and cheap.", "OK.", "And the price?"], failure_classifier=[json.dumps({"result": True}), json.dumps({"result": False})]
    )
    sim = make("impatience", calls, seed=1)
    out = turns(sim, ['"We are sorry, that is not possible."', '"Here it is."'])
    assert sim.state.cynical_mode
    # Turn 1 (failure detected) is protected; the apology switches the mode on before turn 2's
    # base utterance, so turns 2 and 3 are both rewritten.
    assert out[1] == out[2] == "Oh wonderful, another delay."
    assert calls.log.count("cynical") == 2


def test_no_cynical_mode_without_apology() -> None:
    calls = ScriptedCalls(failure_classifier=[json.dumps({"result": True}), json.dumps({"result": False})])
    sim = make("impatience", calls, seed=1)
    turns(sim, ['"That is not possible."', '"Here it is."'])
    assert not sim.state.cynical_mode and sim.state.anger_triggered_last_turn and "cynical" not in calls.log


def test_tangent_complaint_only_half_the_time() -> None:
    only = merged = 0
    for seed in range(400):
        calls = ScriptedCalls(respond_verifier=json.dumps({"thought": "t", "result": False}), merge=lambda p: "MERGED")
        sim = make("tangential", calls, seed=seed)
        out = turns(sim, ['"Which area?"'])
        assert sim.state.n_complain == 1 and sim.state.utterance_pair[0]["complain"] is True
        if out[1].startswith("Complaint number"):
            only += 1
        else:
            merged += 1
            assert out[1] == "MERGED"
    assert 0.44 < only / 400 < 0.56


def test_tangent_injection_shuffles_and_logs_pairs() -> None:
    calls = ScriptedCalls(
        user=["North. Cheap. Three nights.", "Thanks."], merge=lambda p: "MERGED:" + p.split("in order:\n")[1].split("\n")[0]
    )
    sim = make("tangential", calls, seed=3)
    out = turns(sim, ['"Octopuses, wow. Which area?"'])
    pieces = eval_list(out[0].removeprefix("MERGED:"))
    assert sorted(pieces) == sorted(["North", "Cheap", "Three nights.", "Did you know octopuses have three hearts?"])
    assert [p["turn_idx"] for p in sim.state.utterance_pair] == [0, 2]
    assert sim.state.utterance_pair[0]["complain"] is False and sim.state.utterance_pair[1]["complain"] == "<NOT>"
    assert sim.state.n_tangential == 2
    assert sim.state.respond_results[0]["user_utterance"] == out[0]


def eval_list(text: str) -> list[str]:
    import ast

    return list(ast.literal_eval(text))


def test_final_tangent_check_on_ending() -> None:
    calls = ScriptedCalls(
        user=["North and cheap.", "Thanks! <END>"], tracker=SELECT_ALL, respond_verifier=json.dumps({"thought": "t", "result": False})
    )
    sim = make("tangential", calls)
    turns(sim, ['"Booked."'])
    assert sim.state.utterance_pair[0]["complain"] is True
    assert len(sim.state.respond_results) == 0  # the final check is not logged
    assert calls.log[-2:] == ["ending_check", "respond_verifier"]


def test_truncation_never_twice_in_a_row_and_a_third_overall() -> None:
    truncated = total = 0
    for seed in range(60):
        calls = ScriptedCalls(style_transfer=json.dumps({"utterance": "x" * 60}))
        sim = make("incomplete", calls, seed=seed)
        out = turns(sim, ['"ok"'] * 11)
        cut = [len(t) < 60 for t in out]
        assert not any(a and b for a, b in zip(cut, cut[1:], strict=False))
        assert all(len(t) in (60, 30, 20, 15, 12) for t in out)
        truncated += sum(cut)
        total += len(out)
    assert 0.28 < truncated / total < 0.39
    assert all(len(eval_list(p.split("messages:\n")[1].split("\n")[0])) == 5 for p in calls.prompts["style_transfer"])


def test_tracking_sees_the_truncated_text() -> None:
    calls = ScriptedCalls(style_transfer=json.dumps({"utterance": "north cheap hotel please thanks"}))
    sim = make("incomplete", calls, seed=0)
    out = turns(sim, [])
    assert calls.prompts["tracker"][0].split("latest reply:\n")[1].startswith(out[0] + "\n")


def test_pbus_never_tracks_or_injects() -> None:
    calls = ScriptedCalls(user=["Hi, a hotel please.", "Thanks <END>"])
    sim = make("tangential+impatience+incomplete", calls, pbus=True)
    out = turns(sim, ['"Sure."'])
    assert calls.log == ["pbus_topic", "user", "user"]
    assert out == ["Hi, a hotel please.", "Thanks <END>"]
    assert sim.state.remaining == ITEMS and sim.state.used == []
    assert all(m.get("dialogue_state", []) == [] for m in sim.messages)
    assert PBUS_TOPIC_JOIN.format(paragraph="A paragraph about gardening.") in sim.base_prompt
    assert "you get upset and complain" in sim.base_prompt and "cannot hold back your anger" in sim.base_prompt


def test_unavailable_service_adds_three_goals() -> None:
    calls = ScriptedCalls()
    sim = make("unavailable_service", calls)
    turns(sim, [])
    extras = ["You want a rooftop pool.", "You want a pet parrot.", "You want a helipad."]
    assert sim.state.items == ITEMS + extras and sim.state.remaining == ITEMS + extras
    assert sim.goal_text.endswith(UNAVAILABLE_JOIN.format(extras=repr(extras))) and sim.extras_join == UNAVAILABLE_JOIN.format(
        extras=repr(extras)
    )
    assert calls.log[0] == "unavailable_service" and "['accommodation']" in calls.prompts["unavailable_service"][0]


def test_same_seed_same_dialogue() -> None:
    def once() -> tuple[list[str], list[str]]:
        calls = ScriptedCalls(
            failure_classifier=json.dumps({"result": True}), respond_verifier=json.dumps({"thought": "t", "result": False})
        )
        sim = make("tangential+impatience+incomplete", calls, seed=42)
        return turns(sim, ['"No."'] * 6), calls.log

    assert once() == once()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Can you book it, please?", "Can you book it?"),
        ("Please book it.", "Book it."),
        ("I am pleased with that, please.", "I am pleased with that."),
        ("Book it please.", "Book it."),
        ("PLEASE hurry", "Hurry"),
    ],
)
def test_please_removal_keeps_words_intact(text: str, expected: str) -> None:
    assert remove_please(text) == expected
