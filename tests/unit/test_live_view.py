"""A running dialogue's transcripts reach disk at most once per LIVE_VIEW_SECONDS, and always at the end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from shared import conversation
from shared.conversation import DialogueRecord, _save_live_view, _write_live_view


class PlainView:
    """The one Environment method the live view uses: the agent's chat is the history itself."""

    def agent_messages(self, episode: Any, history: list[dict[str, str]]) -> list[dict[str, str]]:
        return list(history)


def test_writes_are_spaced_and_the_end_is_always_written(tmp_path: Path) -> None:
    record = DialogueRecord(folder=tmp_path)
    env: Any = PlainView()

    def say(text: str) -> None:
        record.transcript += f"User: {text}\n"
        record.history.append({"role": "user", "content": text})

    say("one")
    asyncio.run(_save_live_view(env, None, record))  # first write
    say("two")
    asyncio.run(_save_live_view(env, None, record))  # less than LIVE_VIEW_SECONDS later: skipped
    assert (tmp_path / "dial_hist_user.txt").read_text() == "User: one\n"
    say("three")
    record.live_saved_at -= conversation.LIVE_VIEW_SECONDS + 0.1  # as if that much time had passed
    asyncio.run(_save_live_view(env, None, record))  # more than LIVE_VIEW_SECONDS later: written
    assert len(json.loads((tmp_path / "dial_hist_system_list.json").read_text())) == 3
    say("four")
    _write_live_view(tmp_path, record.transcript, env.agent_messages(None, record.history), record.responses, final=True)  # the end
    assert (tmp_path / "dial_hist_user.txt").read_text() == "User: one\nUser: two\nUser: three\nUser: four\n"
    final = (tmp_path / "dial_hist_system_list.json").read_text()
    assert len(json.loads(final)) == 4 and final.startswith("[\n    {")  # indent 4 at the end, as the original
    assert (tmp_path / "dial_hist_system.txt").is_file() and json.loads((tmp_path / "agent_response_list.json").read_text()) == []
