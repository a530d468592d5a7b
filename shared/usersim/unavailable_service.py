"""Unavailable service: three extra goals the environment's APIs cannot fulfil, added once at the start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.usersim.schemas import ExtraGoals

if TYPE_CHECKING:
    from shared.usersim.simulator import UserSimulator

JOIN = " In addition to the above conditions, if the agent is able to fulfill them, also include the conditions from {extras}.\n\n"


async def augment(sim: UserSimulator) -> None:
    """Generate the extra goals; append them to the goal text (as a Python list) and to the items."""
    prompt = sim.templates.render("unavailable_service", goal_text=sim.goal_text, **sim.service_context)
    model, temperature = sim.models.get("unavailable_service")
    result = await model.structured([{"role": "user", "content": prompt}], ExtraGoals, temperature=temperature, role="helper")
    extras = list(result.unavailable_user_goals)
    sim.extra_goals = extras
    sim.goal_text += JOIN.format(extras=repr(extras))
    sim.state.items = sim.state.items + extras
    sim.state.remaining = sim.state.remaining + list(extras)
