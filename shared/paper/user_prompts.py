"""Paper mode for the simulator: the original's texts and function specs, filled as it filled them.

The texts come from the verified upstream files (shared/paper/texts.py). What is code here is
how the original put its inputs in: `.format` with the same field names, Python's `str()` of
lists and loaded JSON (the original formatted lists directly), `.replace` for the templates that
hold literal braces and the tracker's `"{i}. {item}\\n"` lines. This class fills them as the
original's MultiWOZ simulator did; an environment whose original filled some differently subclasses
it in its own package (Tau: `tau_env/paper_wording.py`) and returns it from `paper_prompts()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.paper.texts import PaperTexts, paper_texts
from shared.usersim.config import Behaviors
from shared.usersim.prompt_sets import Prompt

GOAL_MARKER = "[[USER GOAL]]"  # where the original's unavailable-service prompts take the goal


class PaperPrompts:
    name = "paper"

    def __init__(self, env: str, texts: PaperTexts | None = None) -> None:
        self.env = env  # whose texts (the id prefix in locations.json)
        self.texts = texts or paper_texts(env)
        acts = self.texts.data("outburst.acts")
        self.outburst_acts: Mapping[str, str] = {str(k): str(v) for k, v in acts.items()}
        self.tangent_acts: Mapping[str, str] = {str(a["action_name"]): str(a["description"]) for a in self.texts.data("tangent.acts")}

    def _fill(self, key: str, **fields: object) -> Prompt:
        spec_key = f"{key}.spec"
        spec = self.texts.spec(spec_key) if spec_key in self.texts.values else None
        return Prompt(self.texts.text(key).format(**fields), spec)

    # --- the base prompt and PBUS -----------------------------------------------------------

    def base_user(self, goal_text: str, persona_block: str, stop_token: str) -> str:
        return self.texts.text("user.base").format(user_goal=goal_text, persona=persona_block)

    def without_please(self, text: str) -> str:
        # The original's three substring replaces, in its order (FIDELITY S1 fixes them in the ncusim set).
        return text.replace(" please.", "").replace("please ", "").replace(" please", "")

    def pbus_persona_block(self, behaviors: Behaviors) -> str:
        lines = self.texts.data("pbus.persona_lines")
        block = ""
        if behaviors.tangential:
            block += "\n".join(lines["tangential"]) + "\n"
        if behaviors.emotional_acts:
            block += "\n".join(lines["emotional_acts"]) + "\n"
        if behaviors.fragment_dumping:
            block += self.texts.text("pbus.fragment_line")
        return block

    def pbus_topic(self, persona: str) -> Prompt:
        return Prompt(self.texts.text("pbus.topic").format(user_persona=persona))

    def pbus_topic_join(self, paragraph: str) -> str:
        return self.texts.fstring("pbus.topic_join", tangential_topic_paragraph=paragraph)

    # --- unavailable service ------------------------------------------------------------------

    def unavailable_service(self, goal_text: str, context: Mapping[str, Any]) -> Prompt:
        # The domain list and the API documentation as Python's str() shows the lists
        # (the environment's context holds exactly that text), then the goal.
        text = self.texts.text("unavailable_service").format(domain_list=context["domains"], api_docs_list=context["api_catalogue"])
        return Prompt(text.replace(GOAL_MARKER, goal_text), self.texts.spec("unavailable_service.spec"))

    def unavailable_join(self, extras: Sequence[str]) -> str:
        return self.texts.fstring("unavailable_service.join", oor_list=list(extras))

    # --- per-turn calls -----------------------------------------------------------------------

    def rest_provider(self, dial_hist: str, utterance: str, remaining: Sequence[str]) -> Prompt:
        return self._fill("rest_provider", dial_hist=dial_hist, content=utterance, dialogue_state_list=list(remaining))

    def ending_check(self, dial_hist: str, utterance: str) -> Prompt:
        return self._fill("ending_check", dial_hist=dial_hist, user_utterance=utterance)

    def failure_classifier(self, goal_text: str, agent_utterance: str) -> Prompt:
        return self._fill("failure_classifier", user_goal=goal_text, system_utterance=agent_utterance)

    def outburst(self, kind: str, dial_hist: str, act: str, level: str) -> Prompt:
        return self._fill(
            f"outburst.{kind}", dial_hist=dial_hist, dialogue_act=act, description=self.outburst_acts[act], current_anger=level
        )

    def tangent(self, goal_text: str, persona: str, act: str) -> Prompt:
        return self._fill("tangent", user_goal=goal_text, user_persona=persona, action_name=act, action_description=self.tangent_acts[act])

    def merge(self, dial_hist: str, pieces: Sequence[str]) -> Prompt:
        return self._fill("merge", dial_hist=dial_hist, sentence_list=list(pieces))

    def respond_verifier(self, tangent: str, agent_utterance: str) -> Prompt:
        return self._fill("respond_verifier", conversational_content=tangent, system_utterance=agent_utterance)

    def complaints(self, tangent: str) -> Prompt:
        return self._fill("complaints", conversation_content=tangent)

    def style_transfer(self, examples: Sequence[str], utterance: str) -> Prompt:
        return self._fill("style_transfer", sentence_list=list(examples), utterance=utterance)

    def cynical(self, dial_hist: str, utterance: str) -> Prompt:
        return self._fill("cynical", dial_hist=dial_hist, content=utterance)

    def tracker(self, dial_hist: str, utterance: str, remaining: Sequence[str]) -> Prompt:
        numbered = "".join(f"{i}. {item}\n" for i, item in enumerate(remaining, 1))
        return self._fill("tracker", dial_hist=dial_hist, user_utterance=utterance, numbered_options=numbered)
