"""The post-hoc goal-alignment judge on hand-made transcripts."""

from __future__ import annotations

import asyncio
import json

from shared import goal_alignment
from tests.support.scripted_calls import ScriptedCalls

ITEMS = ["restaurant-food-indian", "restaurant-area-centre", "restaurant-people-2 people"]
TURNS = [
    ("user", "I want Indian food."),
    ("agent", '"Which area?"'),
    ("user", "In the centre, for two. # not a marker"),
    ("agent", '"Booked."'),
    ("user", "Thanks <END>"),
]


def judge_with(*selections: list[int]) -> tuple[dict, ScriptedCalls]:
    calls = ScriptedCalls(judge=[json.dumps({"reasoning": "r", "selected_numbers": s}) for s in selections])
    model, _ = calls.models().get("judge")
    return asyncio.run(goal_alignment.judge(TURNS, ITEMS, model, dial_idx="PMUL0001.json_0")), calls


def test_aligned_when_every_item_is_recalled_and_stops_early() -> None:
    result, calls = judge_with([1], [1, 2])
    assert result["result"] is True and result["dialogue_state"] == []
    assert result["dial_idx"] == "PMUL0001.json_0"
    assert calls.log == ["judge", "judge"]  # nothing left after turn 2: the last user turn is not judged
    first, second = calls.prompts["judge"]
    assert "1. restaurant-food-indian\n2. restaurant-area-centre\n3. restaurant-people-2 people\n" in first
    assert goal_alignment.FIRST_TURN in first
    # Items are renumbered; the history holds earlier pieces only, with the agent's quotes kept.
    assert "1. restaurant-area-centre\n2. restaurant-people-2 people\n" in second
    assert 'User:  I want Indian food.\nSystem: "Which area?"\n' in second
    assert "Current user utterance:\nIn the centre, for two. # not a marker" in second


def test_not_aligned_lists_what_was_never_said() -> None:
    result, calls = judge_with([1], [], [7, 0])
    assert result["result"] is False
    assert result["dialogue_state"] == ["restaurant-area-centre", "restaurant-people-2 people"]
    assert len(calls.log) == 3  # out-of-range numbers are ignored


def test_transcript_shape() -> None:
    result, _ = judge_with([1, 2, 3])
    assert result["dial_hist"].startswith('# User:  I want Indian food.\n# System: "Which area?"\n# User:  In the centre')
    assert set(result) == {"dial_idx", "dial_hist", "result", "dialogue_state"}
