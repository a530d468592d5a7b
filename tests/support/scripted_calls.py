"""Per-call scripted models for simulator tests: each simulator call gets its own reply script.

Every call goes through the real model layer (BaseChatModel: structured output parsing, usage
accounting); only the text a model would return is scripted. The order of calls is logged.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from shared.llm.base import BaseChatModel, Completion, Message
from shared.usersim.models import DEFAULTS, ModelSet

Reply = str | Callable[[str], str]

DEFAULT_REPLIES: dict[str, Reply] = {
    "user": "I need a cheap hotel in the north.",
    "rest_provider": "Also, here is everything else you need.",
    "ending_check": json.dumps({"result": True}),
    "failure_classifier": json.dumps({"result": False}),
    "outburst": "This is ridiculous, hurry up!",
    "tangent": json.dumps({"utterance": "Did you know octopuses have three hearts?"}),
    "respond_verifier": json.dumps({"thought": "t", "result": True}),
    "complaints": json.dumps({"utterances": [f"Complaint number {i} because you ignored what I said about octopuses." for i in range(5)]}),
    "merge": lambda prompt: "MERGED",
    "style_transfer": json.dumps({"utterance": "need hotel north cheap pls"}),
    "cynical": "Oh wonderful, another delay.",
    "tracker": json.dumps({"reasoning": "r", "selected_numbers": []}),
    "unavailable_service": json.dumps(
        {"unavailable_user_goals": ["You want a rooftop pool.", "You want a pet parrot.", "You want a helipad."]}
    ),
    "pbus_topic": "A paragraph about gardening.",
    "judge": json.dumps({"reasoning": "r", "selected_numbers": []}),
}


class ScriptedCalls:
    def __init__(self, **scripts: Reply | list[Reply]) -> None:
        self.queues: dict[str, deque[Reply]] = {k: deque(v if isinstance(v, list) else [v]) for k, v in scripts.items()}
        self.log: list[str] = []
        self.prompts: dict[str, list[str]] = {}

    def next(self, call: str, prompt: str) -> str:
        self.log.append(call)
        self.prompts.setdefault(call, []).append(prompt)
        queue = self.queues.get(call)
        reply = queue.popleft() if queue and len(queue) > 1 else (queue[0] if queue else DEFAULT_REPLIES[call])
        return reply(prompt) if callable(reply) else reply

    def models(self) -> ModelSet:
        return ModelSet.of(*[_CallModel(call, self) for call in ["user"]], **{call: _CallModel(call, self) for call in DEFAULTS})


class _CallModel(BaseChatModel):
    backend = "scripted"
    cacheable = False

    def __init__(self, call: str, owner: ScriptedCalls) -> None:
        self.call = call
        self.owner = owner
        super().__init__(f"scripted-call:{call}", call, f"scripted-call:{call}")

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        return Completion(self.owner.next(self.call, messages[-1]["content"]), 1, 1, "stop")
