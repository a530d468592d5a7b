"""A running dialogue's transcripts reach disk at most once per LIVE_VIEW_SECONDS, and always at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared import conversation
from shared.conversation import DialogueRecord, _save_live_view


class PlainView:
    """The one Environment method the live view uses: the agent's chat is the history itself."""

    def agent_messages(self, episode: Any, history: list[dict[str, str]]) -> list[dict[str, str]]:
        return list(history)


def test_writes_are_spaced_and_the_end_is_always_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.4, 101.2, 101.3])
    monkeypatch.setattr(conversation.time, "monotonic", lambda: next(clock))
    record = DialogueRecord(folder=tmp_path)
    env: Any = PlainView()

    def say(text: str) -> None:
        record.transcript += f"User: {text}\n"
        record.history.append({"role": "user", "content": text})

    say("one")
    _save_live_view(env, None, record)  # t=100.0: first write
    say("two")
    _save_live_view(env, None, record)  # t=100.4: skipped
    assert (tmp_path / "dial_hist_user.txt").read_text() == "User: one\n"
    say("three")
    _save_live_view(env, None, record)  # t=101.2: a second later, written
    assert len(json.loads((tmp_path / "dial_hist_system_list.json").read_text())) == 3
    say("four")
    _save_live_view(env, None, record, final=True)  # t=101.3: the end is never skipped
    assert (tmp_path / "dial_hist_user.txt").read_text() == "User: one\nUser: two\nUser: three\nUser: four\n"
    final = (tmp_path / "dial_hist_system_list.json").read_text()
    assert len(json.loads(final)) == 4 and final.startswith("[\n    {")  # indent 4 at the end, as the original
    assert (tmp_path / "dial_hist_system.txt").is_file() and json.loads((tmp_path / "agent_response_list.json").read_text()) == []
