"""Tangential: the user keeps bringing up unrelated topics and complains when they are ignored."""

from __future__ import annotations

from shared.usersim.schemas import Complaints, ReasonedVerdict, Utterance
from shared.usersim.services import SimulatorServices
from shared.usersim.turn import Turn

COMPLAINT_ONLY_PROBABILITY = 0.5
PENDING = "<NOT>"


async def new_tangent(sim: SimulatorServices) -> str:
    act = sim.rng.choice(list(sim.prompts.tangent_acts))
    return (await sim.structured("tangent", sim.prompts.tangent(sim.goal_text, sim.persona, act), Utterance)).utterance


async def merge(sim: SimulatorServices, turn: Turn, pieces: list[str]) -> str:
    return await sim.ask("merge", sim.prompts.merge(turn.dial_hist, pieces))


async def inject(sim: SimulatorServices, turn: Turn) -> None:
    """Split the utterance on ". ", add a new tangent, shuffle everything, merge into one message."""
    tangent = await new_tangent(sim)
    sim.state.current_tangent = tangent
    pieces = turn.content.split(". ") + [tangent]
    sim.rng.shuffle(pieces)
    turn.content = await merge(sim, turn, pieces)
    sim.state.n_tangential += 1
    sim.state.utterance_pair.append({"turn_idx": len(sim.messages) - 2, "utterance": turn.content, "complain": PENDING})
    turn.note("tangent", tangent=tangent)


async def engaged(sim: SimulatorServices, tangent: str, agent_message: str) -> bool:
    return (await sim.structured("respond_verifier", sim.prompts.respond_verifier(tangent, agent_message), ReasonedVerdict)).result


async def stage(sim: SimulatorServices, turn: Turn) -> None:
    state = sim.state
    if state.current_tangent is None:  # first turn (or no tangent yet: the original crashed then)
        await inject(sim, turn)
        return
    latest = sim.latest_agent_message
    result = await engaged(sim, state.current_tangent, latest)
    state.respond_results.append(
        {
            "conversational_content": state.current_tangent,
            "user_utterance": sim.messages[-2]["content"],
            "system_utterance": latest,
            "result": result,
        }
    )
    if result:
        if state.utterance_pair and state.utterance_pair[-1]["complain"] == PENDING:
            state.utterance_pair[-1]["complain"] = False
        await inject(sim, turn)
        return
    if state.utterance_pair and state.utterance_pair[-1]["complain"] == PENDING:
        state.utterance_pair[-1]["complain"] = True
    prompt = sim.prompts.complaints(state.current_tangent)
    complaint = sim.rng.choice((await sim.structured("complaints", prompt, Complaints)).utterances)
    state.n_complain += 1
    if sim.rng.random() < COMPLAINT_ONLY_PROBABILITY:
        turn.content = complaint  # the task content of this turn is dropped
        turn.note("complaint", complaint=complaint, merged=False)
    else:
        turn.content = await merge(sim, turn, [complaint, turn.content])
        turn.note("complaint", complaint=complaint, merged=True)


async def final_check(sim: SimulatorServices) -> None:
    """On an ending turn, settle a tangent whose first verification is still pending."""
    state = sim.state
    if state.utterance_pair and state.current_tangent and state.utterance_pair[-1]["complain"] == PENDING:
        state.utterance_pair[-1]["complain"] = not await engaged(sim, state.current_tangent, sim.latest_agent_message)
