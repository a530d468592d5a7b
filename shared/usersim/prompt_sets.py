"""The words of every simulator call, behind one interface: the kit's own set (`ncusim`) and the
original's (`paper`, shared/paper/user_prompts.py).

The stages decide *when* a call happens and with which inputs (the rules of the original); a
prompt set decides *what text* goes out, and with which function spec, for those inputs. Inputs
are plain values (a list stays a list) so each set can format them as its own wording needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.usersim.config import Behaviors
from shared.usersim.templates import Templates
from shared.usersim.wording import remove_please

PROMPT_SETS = ("paper", "ncusim")


@dataclass(frozen=True)
class Prompt:
    text: str
    spec: dict[str, Any] | None = None  # a function spec sent as a forced tool call (the original's)


class PromptSet(Protocol):
    name: str
    outburst_acts: Mapping[str, str]  # dialogue act -> description, in the original's order
    tangent_acts: Mapping[str, str]

    def base_user(self, goal_text: str, persona_block: str, stop_token: str) -> str: ...
    def without_please(self, text: str) -> str: ...
    def pbus_persona_block(self, behaviors: Behaviors) -> str: ...
    def pbus_topic(self, persona: str) -> Prompt: ...
    def pbus_topic_join(self, paragraph: str) -> str: ...
    def unavailable_service(self, goal_text: str, context: Mapping[str, Any]) -> Prompt: ...
    def unavailable_join(self, extras: Sequence[str]) -> str: ...
    def rest_provider(self, dial_hist: str, utterance: str, remaining: Sequence[str]) -> Prompt: ...
    def ending_check(self, dial_hist: str, utterance: str) -> Prompt: ...
    def failure_classifier(self, goal_text: str, agent_utterance: str) -> Prompt: ...
    def outburst(self, kind: str, dial_hist: str, act: str, level: str) -> Prompt: ...
    def tangent(self, goal_text: str, persona: str, act: str) -> Prompt: ...
    def merge(self, dial_hist: str, pieces: Sequence[str]) -> Prompt: ...
    def respond_verifier(self, tangent: str, agent_utterance: str) -> Prompt: ...
    def complaints(self, tangent: str) -> Prompt: ...
    def style_transfer(self, examples: Sequence[str], utterance: str) -> Prompt: ...
    def cynical(self, dial_hist: str, utterance: str) -> Prompt: ...
    def tracker(self, dial_hist: str, utterance: str, remaining: Sequence[str]) -> Prompt: ...


# The kit's own wording of the data the prompts are built from (the original's is in paper mode).
OUTBURST_ACTS = {
    "belligerent abuse": "the user uses insulting or offensive language",
    "threat": "the user threatens legal action, a personal boycott, or a public accusation on social media",
    "urge": "the user complains about waiting and urges the agent to hurry up",
}
ANGER_LEVELS = {
    "Mildly Angry": "slightly displeased",
    "Moderately Angry": "clearly in a bad mood",
    "Extremely Angry": "unbearably angry",
}
SITUATIONS = {
    "fail": "The agent has just said that the user's request cannot be fulfilled, and the user is frustrated by it.",
    "delay": (
        "The user has already given everything the agent needs, yet the agent has still not finished, and the user is fed up with waiting."
    ),
}
TANGENT_ACTS = {
    "Factual Question": "asks a question that has one definite answer",
    "Opinion Question": "asks for the other side's opinion",
    "General Opinion": "states the user's own opinion",
    "Statement Non-opinion": "tells of experiences or facts without giving an opinion",
}
PBUS_PERSONA_LINES = {
    "tangential": [
        "You like to wander off topic and bring up other subjects during a conversation.",
        "When the other side does not engage with those subjects, you get upset and complain about it.",
    ],
    "emotional_acts": [
        "You are impatient: if the agent does not solve your goal quickly, you react emotionally.",
        "Even when the agent tells you that something cannot be done, you cannot hold back your anger.",
    ],
}
PBUS_FRAGMENT_LINE = (
    "\nYou tend to write your requests in a rough, unrefined way, and now and then you send a message before you have finished writing it."
)
PBUS_TOPIC_JOIN = " Along the way you would also like to talk about these topics: {paragraph}."
UNAVAILABLE_JOIN = " If the agent turns out to be able to do more, also ask for these: {extras}.\n\n"


class OwnPrompts:
    """The kit's own wording: one template file per call (shared/usersim/prompts/, or a folder of
    the user's that overrides any of them)."""

    name = "ncusim"
    outburst_acts: Mapping[str, str] = OUTBURST_ACTS
    tangent_acts: Mapping[str, str] = TANGENT_ACTS

    def __init__(self, templates: Templates | None = None) -> None:
        self.templates = templates or Templates()

    def _render(self, name: str, **values: object) -> Prompt:
        return Prompt(self.templates.render(name, **values))

    def base_user(self, goal_text: str, persona_block: str, stop_token: str) -> str:
        return self.templates.render("base_user", instruction=goal_text, persona_block=persona_block, stop_token=stop_token)

    def without_please(self, text: str) -> str:
        return remove_please(text)  # whole words, any case (FIDELITY S1)

    def pbus_persona_block(self, behaviors: Behaviors) -> str:
        block = ""
        if behaviors.tangential:
            block += "\n".join(PBUS_PERSONA_LINES["tangential"]) + "\n"
        if behaviors.emotional_acts:
            block += "\n".join(PBUS_PERSONA_LINES["emotional_acts"]) + "\n"
        if behaviors.fragment_dumping:
            block += PBUS_FRAGMENT_LINE
        return block

    def pbus_topic(self, persona: str) -> Prompt:
        return self._render("pbus_topic", persona=persona)

    def pbus_topic_join(self, paragraph: str) -> str:
        return PBUS_TOPIC_JOIN.format(paragraph=paragraph)

    def unavailable_service(self, goal_text: str, context: Mapping[str, Any]) -> Prompt:
        return self._render("unavailable_service", goal_text=goal_text, **context)

    def unavailable_join(self, extras: Sequence[str]) -> str:
        return UNAVAILABLE_JOIN.format(extras=repr(list(extras)))

    def rest_provider(self, dial_hist: str, utterance: str, remaining: Sequence[str]) -> Prompt:
        return self._render("rest_provider", dial_hist=dial_hist, utterance=utterance, remaining=repr(list(remaining)))

    def ending_check(self, dial_hist: str, utterance: str) -> Prompt:
        return self._render("ending_check", dial_hist=dial_hist, utterance=utterance)

    def failure_classifier(self, goal_text: str, agent_utterance: str) -> Prompt:
        return self._render("failure_classifier", goal_text=goal_text, agent_utterance=agent_utterance)

    def outburst(self, kind: str, dial_hist: str, act: str, level: str) -> Prompt:
        return self._render(
            "outburst",
            situation=SITUATIONS[kind],
            dial_hist=dial_hist,
            act=act,
            act_description=self.outburst_acts[act],
            levels="\n".join(f"{n}. {name}: {text}" for n, (name, text) in enumerate(ANGER_LEVELS.items(), 1)),
            level=level,
            level_description=ANGER_LEVELS[level],
        )

    def tangent(self, goal_text: str, persona: str, act: str) -> Prompt:
        return self._render("tangent", goal_text=goal_text, persona=persona, act=act, act_description=self.tangent_acts[act])

    def merge(self, dial_hist: str, pieces: Sequence[str]) -> Prompt:
        return self._render("merge", dial_hist=dial_hist, pieces=repr(list(pieces)))

    def respond_verifier(self, tangent: str, agent_utterance: str) -> Prompt:
        return self._render("respond_verifier", tangent=tangent, agent_utterance=agent_utterance)

    def complaints(self, tangent: str) -> Prompt:
        return self._render("complaints", tangent=tangent)

    def style_transfer(self, examples: Sequence[str], utterance: str) -> Prompt:
        return self._render("style_transfer", examples=repr(list(examples)), utterance=utterance)

    def cynical(self, dial_hist: str, utterance: str) -> Prompt:
        return self._render("cynical", dial_hist=dial_hist, utterance=utterance)

    def tracker(self, dial_hist: str, utterance: str, remaining: Sequence[str]) -> Prompt:
        numbered = "\n".join(f"{i}. {item}" for i, item in enumerate(remaining, 1))
        return self._render("tracker", dial_hist=dial_hist, utterance=utterance, numbered_items=numbered)
