"""Paper mode's Tau wording: where the original's Tau simulator and judge filled the texts
differently from its MultiWOZ ones (the shared classes in `shared/paper/` fill them MultiWOZ's way)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.paper.judge_prompts import PaperJudge
from shared.paper.user_prompts import GOAL_MARKER, PaperPrompts
from shared.usersim.prompt_sets import Prompt


class TauPaperPrompts(PaperPrompts):
    def base_user(self, goal_text: str, persona_block: str, stop_token: str) -> str:
        # Tau's base prompt takes the goal behind its "Instruction:" label.
        label = self.texts.text("user.instruction_label")
        return self.texts.text("user.base").format(instruction_display=label + goal_text, persona=persona_block)

    def unavailable_service(self, goal_text: str, context: Mapping[str, Any]) -> Prompt:
        # One prompt per domain, with the goal put in at the marker.
        key = f"unavailable_service.{context['domains']}"
        return Prompt(self.texts.text(key).replace(GOAL_MARKER, goal_text), self.texts.spec(f"{key}.spec"))


class TauPaperJudge(PaperJudge):
    def piece(self, role: str, text: str, last: bool) -> str:
        # dialogue_history.txt: "User: .."/"Agent: .." joined by blank lines, then "Agent: " -> "# Agent:".
        return (f"User: {text}" if role == "user" else f"Agent:{text}") + ("" if last else "\n\n")
