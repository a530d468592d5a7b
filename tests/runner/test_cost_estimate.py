"""The cost estimate a large plan prints before it spends (shared/cost_estimate.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.cost_estimate import CONFIRM_ABOVE, profile
from shared.runner import Runner, RunPlan
from shared.usersim import Behaviors

PAPER_MODELS = ["gpt-4.1-mini", "gpt-4.1-nano", "qwen/qwen3-235b-a22b", "qwen/qwen3-30b-a3b", "meta-llama/llama-3.1-70b-instruct"]
PAPER_BEHAVIOURS = ["normal", "unavailable_service", "tangential", "emotional_acts", "fragment_dumping"]


def plan(
    tmp_path: Path,
    models: list[str],
    behaviours: list[str],
    pbus: bool = False,
    env: str = "multiwoz",
    n: int = 4,
    limit: int | None = None,
    user_model: str | None = None,
) -> RunPlan:
    behaviors = [Behaviors.parse(b, pbus=pbus) for b in behaviours]
    return RunPlan(env=env, models=models, behaviors=behaviors, n=n, limit=limit, user_model=user_model, results=tmp_path / "results")


def test_the_paper_grid_is_priced_per_model(data_home: Path, tmp_path: Path) -> None:
    cost = Runner(plan(tmp_path, PAPER_MODELS, PAPER_BEHAVIOURS, n=4), echo=print).cost_estimate()
    assert cost.dialogues == 5 * 5 * 89 * 4
    assert set(cost.by_model) == set(PAPER_MODELS) | {"gpt-4o-mini"}  # the user is gpt-4.1-mini, itself an agent here
    steps = sum(profile()["dialogues"][b]["agent_steps"] for b in PAPER_BEHAVIOURS) * 89 * 4
    assert cost.by_model["gpt-4.1-nano"].calls == pytest.approx(steps)
    assert all(cost.dollars(m) for m in cost.by_model) and cost.total_dollars > 0
    lines = cost.lines()
    assert lines[-1].startswith(f"estimated total ${cost.total_dollars:,.2f} for 8,900 dialogues")


def test_tau_prices_its_bigger_agent_prompt(data_home: Path, tmp_path: Path) -> None:
    runners = {env: Runner(plan(tmp_path, ["gpt-4.1-nano"], ["normal"], limit=10, env=env), echo=print) for env in ("multiwoz", "tau")}
    per_call = {}
    for env, runner in runners.items():
        agent = runner.cost_estimate().by_model["gpt-4.1-nano"]
        per_call[env] = agent.input_tokens / agent.calls
    # The wiki and the tool list go out with every Tau step: each call costs the difference of the prompts.
    system = {env: runner.agent_system_tokens() for env, runner in runners.items()}
    assert system["tau"] > 2 * system["multiwoz"]
    assert per_call["tau"] - per_call["multiwoz"] == pytest.approx(system["tau"] - system["multiwoz"])


def test_pbus_has_no_per_turn_helpers_and_self_served_models_cost_nothing(data_home: Path, tmp_path: Path) -> None:
    pbus = Runner(plan(tmp_path, ["gpt-4.1-nano"], ["tangential"], pbus=True, limit=4), echo=print).cost_estimate()
    kinds = profile()["helpers"]["pbus:tangential"]
    assert set(kinds) == {"pbus_topic"}
    turns = profile()["dialogues"]["tangential"]["user_turns"]
    # gpt-4o-mini: the topic paragraph and the judge; gpt-4.1-mini: only the user's own turns.
    assert pbus.by_model["gpt-4o-mini"].calls == pytest.approx(pbus.dialogues * turns * (1 + kinds["pbus_topic"]["per_user_turn"]))
    assert pbus.by_model["gpt-4.1-mini"].calls == pytest.approx(pbus.dialogues * turns)
    local = Runner(plan(tmp_path, ["local"], ["tangential"], user_model="local", limit=4), echo=print).cost_estimate()
    assert local.total_dollars == 0 and set(local.by_model) == {"local"}


def test_a_large_plan_without_a_terminal_stops_before_anything_is_written(data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    command = [sys.executable, "-m", "shared.cli", "simulate", "--models", "gpt-4.1-nano", "--behaviors", ",".join(PAPER_BEHAVIOURS)]
    command += ["--n", "4", "--results", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("ncusim: error: 1,780 dialogues to run (estimated $")
    assert "rerun with --yes (make: YES=1)" in done.stderr and "estimated total $" in done.stdout
    assert not results.exists()
    assert 1780 > CONFIRM_ABOVE
    shown = subprocess.run([*command, "--estimate"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert shown.returncode == 0 and "gpt-4o-mini" in shown.stdout and not results.exists()
