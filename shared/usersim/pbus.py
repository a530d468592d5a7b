"""PBUS, the prompt-only baseline: behaviours are described in the prompt, no per-turn machinery."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.usersim.simulator import UserSimulator

PERSONA_LINES = {
    "tangential": [
        "You like to wander off topic and bring up other subjects during a conversation.",
        "When the other side does not engage with those subjects, you get upset and complain about it.",
    ],
    "emotional_acts": [
        "You are impatient: if the agent does not solve your goal quickly, you react emotionally.",
        "Even when the agent tells you that something cannot be done, you cannot hold back your anger.",
    ],
}
FRAGMENT_LINE = (
    "\nYou tend to write your requests in a rough, unrefined way, and now and then you send a message before you have finished writing it."
)


async def persona_block(sim: UserSimulator) -> str:
    """The persona lines for the active flags; tangential also adds a topic paragraph to the goal."""
    block = ""
    flags = sim.behaviors
    if flags.tangential:
        block += "\n".join(PERSONA_LINES["tangential"]) + "\n"
        paragraph = await sim.ask("pbus_topic", sim.templates.render("pbus_topic", persona=sim.persona))
        sim.goal_text += f" You also want to discuss about the given tangential topics: {paragraph}."
    if flags.emotional_acts:
        block += "\n".join(PERSONA_LINES["emotional_acts"]) + "\n"
    if flags.fragment_dumping:
        block += FRAGMENT_LINE
    return block
