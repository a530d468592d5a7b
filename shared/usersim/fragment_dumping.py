"""Incomplete utterance (fragment dumping): rough, fragmentary style, sometimes cut off mid-message."""

from __future__ import annotations

from shared.usersim.schemas import Utterance
from shared.usersim.services import SimulatorServices
from shared.usersim.turn import Turn

N_EXAMPLES = 5
TRUNCATE_PROBABILITY = 0.5
DIVISORS = (2, 3, 4, 5)


async def stage(sim: SimulatorServices, turn: Turn) -> None:
    examples = sim.rng.sample(sim.fragment_pool(), N_EXAMPLES)
    prompt = sim.prompts.style_transfer(examples, turn.content)
    turn.content = (await sim.structured("style_transfer", prompt, Utterance)).utterance
    turn.note("fragmented")
    # Truncate to the first 1/k of the characters, never on two fragment-stage turns in a row.
    if sim.rng.random() <= TRUNCATE_PROBABILITY and not sim.state.cutoff_flag:
        k = sim.rng.choice(DIVISORS)
        turn.content = turn.content[: max(1, int(len(turn.content) / k))]
        sim.state.cutoff_flag = True
        turn.note("truncated", divisor=k)
    else:
        sim.state.cutoff_flag = False
