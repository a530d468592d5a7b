"""Paper mode for the goal-alignment judge: the original's function-local prompt and spec
(goal_align_new.py of each environment), and its turns as the original cut them from the saved
transcript (MultiWOZ `dial_hist_user.txt`, Tau `dialogue_history.txt`), rebuilt from structured
turns so a "# " inside an utterance cannot shift them. This class cuts them as MultiWOZ's judge
did; Tau's subclass is in `tau_env/paper_wording.py`."""

from __future__ import annotations

from collections.abc import Sequence

from shared.paper.texts import PaperTexts, paper_texts
from shared.usersim.prompt_sets import Prompt


class PaperJudge:
    def __init__(self, env: str, texts: PaperTexts | None = None) -> None:
        self.env = env
        self.texts = texts or paper_texts(env)

    def piece(self, role: str, text: str, last: bool) -> str:
        # dial_hist_user.txt: "# You: ..\n"/"# System: ..\n", then "# You:" -> "# User: ".
        return f"User:  {text}\n" if role == "user" else f"System: {text}\n"

    def transcript(self, turns: Sequence[tuple[str, str]]) -> str:
        return "".join("# " + self.piece(role, text, i == len(turns) - 1) for i, (role, text) in enumerate(turns))

    def prompt(self, numbered_items: str, history: str, utterance: str, utterance_piece: str) -> Prompt:
        text = self.texts.text("judge").format(
            dialogue_state_list=numbered_items,
            dial_hist=history or self.texts.text("judge.first_turn"),
            user_utterance=utterance_piece,
        )
        return Prompt(text, self.texts.spec("judge.spec"))
