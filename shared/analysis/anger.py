"""Optional appendix metric: user anger and agent failure notices per dialogue, counted by an LLM
judge (the original's anger_fail.py, which could not run: it imported a missing module).

The judge reads the user's view of each dialogue (`dial_hist_user.txt`, MultiWOZ; or
`dialogue_history.txt`, Tau) at temperature 0, so repeated runs are answered from the model
layer's disk cache. Answers are written under the output folder, never into dialogue folders.
The aggregate is the mean of each count per dialogue and the share of dialogues with at least one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import NcusimError
from shared.llm.base import ChatModel
from shared.paper.texts import paper_texts
from shared.usersim.prompt_sets import Prompt
from shared.usersim.templates import Templates

PROMPTS = Path(__file__).with_name("prompts")
TRANSCRIPTS = (("dial_hist_user.txt", "# You:", "# System:"), ("dialogue_history.txt", "User:", "Agent:"))


class AngerFailure(BaseModel):
    reasoning: str = ""
    anger_count: int = Field(ge=0)
    failure_notify_count: int = Field(ge=0)


def user_view(folder: Path) -> tuple[str, str, str] | None:
    """(dialogue text, user label, agent label) of the first transcript the folder has."""
    for name, user_label, agent_label in TRANSCRIPTS:
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8"), user_label, agent_label
    return None


def paper_prompt(env: str, dialogue: str) -> Prompt:
    """anger_fail.py's prompt filled with the whole transcript, and its function spec."""
    texts = paper_texts(env)
    return Prompt(texts.text("anger").format(dial_hist=dialogue), texts.spec("anger.spec"))


async def count_folder(folder: Path, model: ChatModel, templates: Templates, env: str | None = None) -> dict[str, Any]:
    """`env` set: the original's prompt for that environment (paper mode); None: the kit's own."""
    view = user_view(folder)
    if view is None:
        return {"folder": folder.name, "error": "no user-view transcript"}
    dialogue, user_label, agent_label = view
    if env is not None:
        prompt = paper_prompt(env, dialogue)
    else:
        prompt = Prompt(templates.render("anger_failure", dialogue=dialogue, user_label=user_label, agent_label=agent_label))
    messages = [{"role": "user", "content": prompt.text}]
    try:
        answer = await model.structured(messages, AngerFailure, temperature=0.0, role="judge", function=prompt.spec)
    except NcusimError as exc:
        return {"folder": folder.name, "error": str(exc)}
    return {"folder": folder.name, **answer.model_dump()}


async def count_all(folders: Sequence[Path], model: ChatModel, concurrency: int = 16, env: str | None = None) -> list[dict[str, Any]]:
    templates = Templates([PROMPTS])
    limit = asyncio.Semaphore(concurrency)

    async def one(folder: Path) -> dict[str, Any]:
        async with limit:
            return await count_folder(folder, model, templates, env)

    return list(await asyncio.gather(*(one(f) for f in folders)))


def aggregate(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    judged = [a for a in answers if "error" not in a]
    n = len(judged)

    def share(key: str) -> float | None:
        return sum(a[key] >= 1 for a in judged) / n if n else None

    return {
        "judged": n,
        "judge_errors": len(answers) - n,
        "anger_per_dialogue": sum(a["anger_count"] for a in judged) / n if n else None,
        "failure_notices_per_dialogue": sum(a["failure_notify_count"] for a in judged) / n if n else None,
        "dialogues_with_anger": share("anger_count"),
        "dialogues_with_failure_notice": share("failure_notify_count"),
    }
