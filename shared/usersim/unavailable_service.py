"""Unavailable service: three extra goals the environment's APIs cannot fulfil, added once at the start."""

from __future__ import annotations

from shared.usersim.schemas import ExtraGoals
from shared.usersim.services import SimulatorServices


async def augment(sim: SimulatorServices) -> None:
    """Generate the extra goals; append them to the goal text (as a Python list) and to the items."""
    prompt = sim.prompts.unavailable_service(sim.goal_text, sim.service_context)
    result = await sim.structured("unavailable_service", prompt, ExtraGoals, capped=False)
    extras = list(result.unavailable_user_goals)
    sim.extra_goals = extras
    sim.extras_join = sim.prompts.unavailable_join(extras)
    sim.goal_text += sim.extras_join
    sim.state.items = sim.state.items + extras
    sim.state.remaining = sim.state.remaining + list(extras)
