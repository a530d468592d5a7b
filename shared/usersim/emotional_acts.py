"""Impatience (emotional acts): outbursts on delay or failure, escalating anger, cynical mode.

Delay: every goal item was already given and the turn is not an ending; an outburst fires with
the delay probability. Otherwise the failure classifier asks whether the agent said the request
cannot be done; if so an outburst fires with the fail probability, and whether or not it fired
the user becomes liable to turn cynical after the agent's next apology. Each probability starts at
0.5 and rises by 0.1 per outburst of its kind, up to 0.7; the anger level follows the same count.
"""

from __future__ import annotations

from shared.usersim.schemas import Verdict
from shared.usersim.services import SimulatorServices
from shared.usersim.turn import Turn
from shared.usersim.wording import remove_please, strip_please

__all__ = ["cynical_rewrite", "outburst", "remove_please", "stage", "strip_please"]


async def outburst(sim: SimulatorServices, turn: Turn, kind: str) -> str:
    counter = sim.state.delay if kind == "delay" else sim.state.fail
    act = sim.rng.choice(list(sim.prompts.outburst_acts))
    text = await sim.ask("outburst", sim.prompts.outburst(kind, turn.dial_hist, act, counter.level))
    turn.note("outburst", kind=kind, act=act, level=counter.level)
    counter.fired += 1
    return text


async def stage(sim: SimulatorServices, turn: Turn) -> None:
    turn.content = sim.prompts.without_please(turn.content)
    state = sim.state
    if not state.remaining and sim.stop_token not in turn.content:
        if sim.rng.random() < state.delay.probability:
            turn.content = await outburst(sim, turn, "delay")
            turn.current_angry = True
        return
    prompt = sim.prompts.failure_classifier(sim.goal_text, sim.latest_agent_message)
    if (await sim.structured("failure_classifier", prompt, Verdict)).result:
        if sim.rng.random() < state.fail.probability:
            turn.content = await outburst(sim, turn, "fail")
            turn.current_angry = True
        state.anger_triggered_last_turn = True
        turn.suppress_cynical = True
        turn.note("failure_detected")


async def cynical_rewrite(sim: SimulatorServices, turn: Turn) -> None:
    turn.content = await sim.ask("cynical", sim.prompts.cynical(turn.dial_hist, turn.content))
    turn.note("cynical")
