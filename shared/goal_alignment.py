"""Post-hoc goal-alignment judge: did the simulated user state every goal item?

For each user turn in order, the judge sees the items not yet matched (renumbered from 1), the
conversation before that turn and the turn itself, and selects the items the turn contains. The
dialogue is aligned only when every item was matched by some user turn (100% recall). Turns come
in as structured (role, text) pairs, so text inside an utterance cannot shift user/agent parity
(the original split a transcript on "# ").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from shared.llm.base import ChatModel
from shared.usersim.prompt_sets import Prompt
from shared.usersim.schemas import Selection
from shared.usersim.templates import Templates

FIRST_TURN = "The conversation has not started yet; the current utterance is the user's first."
STRICT_RULE = "A piece counts only if the user mentions it before the agent does."
LENIENT_RULE = "A piece counts if the user mentions it, or if the agent mentions it and the user then accepts it."


class JudgeWording(Protocol):
    """How turns, the history and each per-turn prompt are written (the kit's own or the original's)."""

    def piece(self, role: str, text: str, last: bool) -> str: ...
    def transcript(self, turns: Sequence[tuple[str, str]]) -> str: ...
    def prompt(self, numbered_items: str, history: str, utterance: str, utterance_piece: str) -> Prompt: ...


def render_turn(role: str, text: str) -> str:
    return f"User:  {text}\n" if role == "user" else f"System: {text}\n"


def transcript(turns: Sequence[tuple[str, str]]) -> str:
    """The `dial_hist` of goal_align_result.json: `# User:  ...` / `# System: ...` lines."""
    return "".join("# " + render_turn(role, text) for role, text in turns)


class OwnJudge:
    """The kit's wording (shared/usersim/prompts/judge.txt, or a user's folder that overrides it)."""

    def __init__(self, mention_rule: str = STRICT_RULE, prompt_dir: Path | None = None) -> None:
        self.mention_rule = mention_rule
        self.templates = Templates([prompt_dir])

    def piece(self, role: str, text: str, last: bool) -> str:
        return render_turn(role, text)

    def transcript(self, turns: Sequence[tuple[str, str]]) -> str:
        return transcript(turns)

    def prompt(self, numbered_items: str, history: str, utterance: str, utterance_piece: str) -> Prompt:
        text = self.templates.render(
            "judge",
            mention_rule=self.mention_rule,
            numbered_items=numbered_items,
            dial_hist=history or FIRST_TURN,
            user_utterance=utterance,
        )
        return Prompt(text)


async def judge(
    turns: Sequence[tuple[str, str]],
    items: Sequence[str],
    model: ChatModel,
    *,
    dial_idx: str = "",
    mention_rule: str = STRICT_RULE,
    prompt_dir: Path | None = None,
    temperature: float = 0.0,
    wording: JudgeWording | None = None,
) -> dict[str, Any]:
    """`{"dial_idx", "dial_hist", "result", "dialogue_state": [unmatched items]}` (the original shape)."""
    wording = wording or OwnJudge(mention_rule, prompt_dir)
    unmatched = list(items)
    history = ""
    for index, (role, text) in enumerate(turns):
        piece = wording.piece(role, text, index == len(turns) - 1)
        if role == "user":
            if not unmatched:
                break
            numbered = "".join(f"{i}. {item}\n" for i, item in enumerate(unmatched, 1))
            prompt = wording.prompt(numbered, history, text, piece)
            messages = [{"role": "user", "content": prompt.text}]
            selection = await model.structured(messages, Selection, temperature=temperature, role="judge", function=prompt.spec)
            hits = {unmatched[n - 1] for n in selection.selected_numbers if 1 <= n <= len(unmatched)}
            unmatched = [item for item in unmatched if item not in hits]
        history += piece
    return {"dial_idx": dial_idx, "dial_hist": wording.transcript(turns), "result": not unmatched, "dialogue_state": unmatched}
