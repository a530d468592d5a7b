"""Scripted Tau runs for tests: the agent's ChatReAct text and one real runner pass over given tasks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from shared.runner import Runner, RunPlan
from shared.usersim import Behaviors
from shared.usersim.models import DEFAULTS


def react(name: str, arguments: dict) -> str:
    """A Tau agent reply calling `name` with `arguments`, as ChatReAct writes it."""
    return f"Thought:\nI will do this.\nAction:\n{json.dumps({'name': name, 'arguments': arguments})}"


def run(
    results: Path,
    *,
    agent: str,
    user: str,
    helpers: str,
    scenario_ids: list[str],
    n: int = 1,
    behavior: str = "normal",
    concurrency: int = 1,
    max_steps: int | None = None,
) -> Path:
    """Simulate, grade and score the tasks with scripted models (specs); returns the run's root."""
    plan = RunPlan(
        env="tau",
        models=[agent],
        behaviors=[Behaviors.parse(behavior)],
        n=n,
        scenario_ids=scenario_ids,
        user_model=user,
        helper_models={call: helpers for call in DEFAULTS if call not in ("user", "judge")},
        judge_model=helpers,
        attempts=1,
        concurrency=concurrency,
        results=results,
        env_options={"max_steps": max_steps} if max_steps else {},
    )
    asyncio.run(Runner(plan, echo=lambda line: None).run())
    return plan.root
