"""Which model every simulator call goes to (the paper's split, D1 of the paper-exact issue).

The paper: user, rest provider, ending check, failure classifier, respond verifier, merge, style
transfer, tracker and unavailable service on gpt-4.1-mini; outburst, tangent, complaints, cynical
rewrite and the PBUS topic on gpt-4o-mini; the goal-alignment judge on gpt-4o-mini.
"""

from __future__ import annotations

import pytest

from shared.llm.resolve import is_hosted_api
from shared.runner import Runner, RunPlan
from shared.usersim import Behaviors
from shared.usersim.models import DEFAULTS, ModelSet, route

MINI = {"user", "rest_provider", "ending_check", "failure_classifier", "respond_verifier", "merge", "style_transfer", "tracker"}
MINI |= {"unavailable_service"}
FOUR_O = {"outburst", "tangent", "complaints", "cynical", "pbus_topic"}


def test_the_tiers_cover_every_call() -> None:
    assert MINI | FOUR_O | {"judge"} == set(DEFAULTS) and not MINI & FOUR_O


def test_paper_defaults() -> None:
    specs = route().specs
    assert {call for call, spec in specs.items() if spec == "gpt-4.1-mini"} == MINI
    assert {call for call, spec in specs.items() if spec == "gpt-4o-mini"} == FOUR_O | {"judge"}
    assert route().notes == ()


def test_an_api_user_model_replaces_only_the_gpt_4_1_mini_calls() -> None:
    specs = route(user="openrouter:qwen/qwen3-235b-a22b").specs
    assert {c for c, s in specs.items() if s == "openrouter:qwen/qwen3-235b-a22b"} == MINI
    assert {c for c, s in specs.items() if s == "gpt-4o-mini"} == FOUR_O | {"judge"}


def test_helper_and_judge_models_replace_their_tiers_and_per_call_overrides_win() -> None:
    specs = route(user="gpt-4.1", helper="gpt-4.1-nano", judge="openai:gpt-4o", overrides={"tracker": "gpt-4o"}).specs
    assert {c for c, s in specs.items() if s == "gpt-4.1"} == MINI - {"tracker"}
    assert {c for c, s in specs.items() if s == "gpt-4.1-nano"} == FOUR_O
    assert specs["judge"] == "openai:gpt-4o" and specs["tracker"] == "gpt-4o"


@pytest.mark.parametrize("user", ["local", "hf:/models/x", "scripted:/tmp/u.json", "http://127.0.0.1:8011/v1#m", "vllm:mine"])
def test_a_self_served_user_model_takes_every_call_and_says_so(user: str) -> None:
    routing = route(user=user)
    assert set(routing.specs.values()) == {user}
    assert any("HELPER_MODEL" in note for note in routing.notes) and any("JUDGE_MODEL" in note for note in routing.notes)
    # An explicit helper model still splits the tiers.
    split = route(user=user, helper="gpt-4o-mini").specs
    assert {c for c, s in split.items() if s == "gpt-4o-mini"} == FOUR_O


@pytest.mark.parametrize(
    ("spec", "hosted"),
    [("gpt-4.1-mini", True), ("openai:gpt-4o", True), ("qwen/qwen3-30b-a3b", True), ("openrouter:x/y", True), ("local", False)],
)
def test_hosted_api_specs(spec: str, hosted: bool) -> None:
    assert is_hosted_api(spec) is hosted


def test_run_json_lists_model_and_temperature_of_every_call() -> None:
    plan = RunPlan(env="multiwoz", models=["gpt-4.1-nano"], behaviors=[Behaviors.parse("normal")], user_model="gpt-4.1")
    table = Runner(plan, echo=lambda line: None).user_models_table()
    assert set(table) == set(DEFAULTS)
    assert table["outburst"] == {"model": "gpt-4o-mini", "temperature": 1.0}
    assert table["tracker"] == {"model": "gpt-4.1", "temperature": 0.0}
    assert table == ModelSet.from_routing(route(user="gpt-4.1")).table()
