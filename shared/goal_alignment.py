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
from typing import Any

from shared.llm.base import ChatModel
from shared.usersim.schemas import Selection
from shared.usersim.templates import Templates

FIRST_TURN = "The conversation has not started yet; the current utterance is the user's first."
STRICT_RULE = "A piece counts only if the user mentions it before the agent does."
LENIENT_RULE = "A piece counts if the user mentions it, or if the agent mentions it and the user then accepts it."


def render_turn(role: str, text: str) -> str:
    return f"User:  {text}\n" if role == "user" else f"System: {text}\n"


def transcript(turns: Sequence[tuple[str, str]]) -> str:
    """The `dial_hist` of goal_align_result.json: `# User:  ...` / `# System: ...` lines."""
    return "".join("# " + render_turn(role, text) for role, text in turns)


async def judge(
    turns: Sequence[tuple[str, str]],
    items: Sequence[str],
    model: ChatModel,
    *,
    dial_idx: str = "",
    mention_rule: str = STRICT_RULE,
    prompt_dir: Path | None = None,
    temperature: float = 0.0,
) -> dict[str, Any]:
    """`{"dial_idx", "dial_hist", "result", "dialogue_state": [unmatched items]}` (the original shape)."""
    templates = Templates([prompt_dir])
    unmatched = list(items)
    history = ""
    for role, text in turns:
        piece = render_turn(role, text)
        if role == "user":
            if not unmatched:
                break
            prompt = templates.render(
                "judge",
                mention_rule=mention_rule,
                numbered_items="".join(f"{i}. {item}\n" for i, item in enumerate(unmatched, 1)),
                dial_hist=history or FIRST_TURN,
                user_utterance=text,
            )
            selection = await model.structured([{"role": "user", "content": prompt}], Selection, temperature=temperature, role="judge")
            hits = {unmatched[n - 1] for n in selection.selected_numbers if 1 <= n <= len(unmatched)}
            unmatched = [item for item in unmatched if item not in hits]
        history += piece
    return {"dial_idx": dial_idx, "dial_hist": transcript(turns), "result": not unmatched, "dialogue_state": unmatched}
