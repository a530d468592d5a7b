"""PBUS, the prompt-only baseline: behaviours are described in the prompt, no per-turn machinery."""

from __future__ import annotations

from shared.usersim.services import SimulatorServices


async def persona_block(sim: SimulatorServices) -> str:
    """The persona lines for the active flags; tangential also adds a topic paragraph to the goal."""
    if sim.behaviors.tangential:
        paragraph = await sim.ask("pbus_topic", sim.prompts.pbus_topic(sim.persona))
        sim.goal_text += sim.prompts.pbus_topic_join(paragraph)
    return sim.prompts.pbus_persona_block(sim.behaviors)
