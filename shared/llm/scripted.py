"""Deterministic replies from a file, for tests and dry runs: `scripted:<file>`.

The file is JSON or YAML: a list of replies, or `{"replies": [...]}`. Each call returns the next
reply; running out is an error (a test that needs more replies than it scripted is wrong).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import yaml

from shared.errors import ConfigError, ModelError, yaml_problem
from shared.llm.base import BaseChatModel, Completion, Message


def load_replies(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"scripted model file {path} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"scripted model file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {yaml_problem(exc)}") from None
    if isinstance(data, dict):
        data = data.get("replies")
    if not isinstance(data, list) or not all(isinstance(r, str) for r in data):
        raise ConfigError(f"scripted model file {path} must hold a list of strings (or {{'replies': [...]}})")
    return data


class ScriptedModel(BaseChatModel):
    backend = "scripted"
    cacheable = False

    def __init__(self, spec: str, path: Path, **kw: Any):
        self.path = path
        self.replies = load_replies(path)
        self.calls = 0
        self._lock = threading.Lock()
        super().__init__(spec, path.name, f"scripted:{path}", **kw)

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        with self._lock:
            if self.calls >= len(self.replies):
                raise ModelError(f"scripted model {self.path} ran out of replies after {len(self.replies)} calls")
            reply = self.replies[self.calls]
            self.calls += 1
        prompt = sum(len(m.get("content", "").split()) for m in messages)
        return Completion(reply, prompt, len(reply.split()), "stop")
