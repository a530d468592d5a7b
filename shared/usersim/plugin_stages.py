"""Behaviours from outside the kit: a stage with one typed signature over the turn being built.

A behaviour plug-in is a class (or factory) with a `name` (its part of the results folder name)
and one async method over a `StageContext`, the user turn being built and what a stage may use:

    class Shouting:
        name = "shouting"
        async def __call__(self, ctx: StageContext) -> None:
            ctx.turn.content = ctx.turn.content.upper()
            ctx.turn.note("shouted")

It is named in BEHAVIORS as `module:attr`, or by the name of an `ncusim.behaviors` entry point,
alone or joined with the paper's behaviours by `+` (`tangential+mypkg.moods:Shouting`). Plug-in
stages run after the paper's behaviour stages (impatience, tangential, incomplete utterance) and
before the cynical rewrite and goal tracking, on the turns where those stages run (not on a rest
provider's turn, not once the user has said the stop token), in the order given. A stage sees the
turn, the goal, the items still to convey, the dialogue's random generator, and one helper call
through the run's models; it never sees the simulator itself.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from shared.errors import ConfigError
from shared.usersim.turn import Turn

ENTRY_POINT_GROUP = "ncusim.behaviors"


@dataclass(frozen=True)
class StageContext:
    turn: Turn  # `content` to read and rewrite, `note(event, **details)` for the transcript viewer
    goal: str
    remaining: tuple[str, ...]  # goal items not conveyed yet
    rng: random.Random  # the dialogue's own: a stage that draws from it replays from the seed
    stop_token: str
    ask: Callable[[str], Awaitable[str]]  # one free-text helper call (the `helper` model of the run)


@runtime_checkable
class BehaviourStage(Protocol):
    name: str

    async def __call__(self, ctx: StageContext) -> None: ...


def _target(reference: str) -> str:
    if ":" in reference:
        return reference
    installed = {e.name: e.value for e in entry_points(group=ENTRY_POINT_GROUP)}
    if reference not in installed:
        raise ConfigError(f"unknown behaviour {reference!r}: not a paper behaviour, an installed plug-in or module:attr")
    return installed[reference]


@cache
def load_stage(reference: str) -> BehaviourStage:
    """The stage `reference` names (`module:attr` or an entry point); ConfigError when it cannot be had."""
    module_name, _, attr = _target(reference).partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        raise ConfigError(f"behaviour plug-in {reference!r} cannot be imported") from None
    stage = found() if isinstance(found, type) else found
    name = getattr(stage, "name", None)
    if not isinstance(stage, BehaviourStage) or not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ConfigError(f"behaviour plug-in {reference!r} needs a `name` (letters, digits, _) and an async __call__(ctx)")
    return stage


async def run_stages(references: Sequence[str], ctx: StageContext) -> None:
    for reference in references:
        if ctx.stop_token in ctx.turn.content:
            return
        await load_stage(reference)(ctx)
