"""A complete agent plug-in: look something up first, then let the model answer from what it found.

Put your own agent in front of the non-collaborative users the same way (see "Bring your own
agent" in the README):

    make simulate ENV=multiwoz MODELS=gpt-4.1-mini AGENT=examples/lookup_agent.py:LookupThenAnswer \
        BEHAVIORS=normal,tangential N=1 LIMIT=5

The kit builds the class once per agent model (MODELS) and passes it that model, already resolved
(keys, endpoint, retries, cache and usage accounting are the kit's). One object serves every
dialogue of its model, several at once: keep a dialogue's state in `messages`, not on `self`.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from shared.agent_plugins import AgentReply
from shared.llm.base import ChatModel
from shared.tool_call import ToolCall

SEARCH_PREFIXES = ("get_", "find_", "list_", "search_")


class LookupThenAnswer:
    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.ids = itertools.count(1)  # tool-call ids only need to be unique within a chat

    async def step(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AgentReply:
        if messages[-1]["role"] == "user" and tools:
            # A new user turn: one search before answering (a retrieve API, or a get/find/list tool).
            names = [t["function"]["name"] for t in tools]
            search = next((n for n in names if "retrieve" in n or n.startswith(SEARCH_PREFIXES)), names[0])
            return AgentReply(tool_calls=(ToolCall(f"lookup-{next(self.ids)}", search, "{}"),))
        # The search answered: the model writes to the user from the whole chat, the tool traffic
        # shown as text so that any chat model can read it.
        reply = await self.model.chat(flatten(messages), role="agent")
        return AgentReply(content=reply.text)


def flatten(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for message in messages:
        if message["role"] == "tool":
            out.append({"role": "user", "content": f"[result of {message.get('name', 'a tool')}] {message['content']}"})
        elif message.get("tool_calls"):
            calls = [f"{c['function']['name']}({c['function']['arguments']})" for c in message["tool_calls"]]
            out.append({"role": "assistant", "content": (message.get("content") or "") + " [called " + json.dumps(calls) + "]"})
        else:
            out.append({"role": message["role"], "content": message.get("content") or ""})
    return out
