"""Impatience (emotional acts): outbursts on delay or failure, escalating anger, cynical mode.

Delay: every goal item was already given and the turn is not an ending; an outburst fires with
the delay probability. Otherwise the failure classifier asks whether the agent said the request
cannot be done; if so an outburst fires with the fail probability, and whether or not it fired
the user becomes liable to turn cynical after the agent's next apology. Each probability starts at
0.5 and rises by 0.1 per outburst of its kind, up to 0.7; the anger level follows the same count.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shared.usersim.schemas import Verdict

if TYPE_CHECKING:
    from shared.usersim.simulator import Turn, UserSimulator

# The word with its trailing comma; `strip_please` adds the separator before it (a comma and
# whitespace, or whitespace), as `re.sub(r"(,\s*|\s+)?\bplease\b,?", "", text, flags=re.I)` would.
_PLEASE = re.compile(r"\bplease\b,?", re.IGNORECASE)


def strip_please(text: str) -> str:
    """Every "please" removed with the separator before it, in linear time: the regex with the
    separator in it backtracked quadratically over long whitespace (20,000 spaces took 19 s)."""
    kept: list[str] = []
    last = 0
    for match in _PLEASE.finditer(text):
        start = match.start()
        while start > last and text[start - 1].isspace():
            start -= 1
        if start > last and text[start - 1] == ",":
            start -= 1
        kept.append(text[last:start])
        last = match.end()
    kept.append(text[last:])
    return "".join(kept)


def remove_please(text: str) -> str:
    """Drop the word "please" (any case, whole word only; the original cut it out of "pleased")."""
    out = strip_please(text).strip()
    if text[:1].isupper() and out[:1].islower():
        out = out[0].upper() + out[1:]
    return out


async def outburst(sim: UserSimulator, turn: Turn, kind: str) -> str:
    counter = sim.state.delay if kind == "delay" else sim.state.fail
    act = sim.rng.choice(list(sim.prompts.outburst_acts))
    text = await sim.ask("outburst", sim.prompts.outburst(kind, turn.dial_hist, act, counter.level))
    turn.note("outburst", kind=kind, act=act, level=counter.level)
    counter.fired += 1
    return text


async def stage(sim: UserSimulator, turn: Turn) -> None:
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


async def cynical_rewrite(sim: UserSimulator, turn: Turn) -> None:
    turn.content = await sim.ask("cynical", sim.prompts.cynical(turn.dial_hist, turn.content))
    turn.note("cynical")
