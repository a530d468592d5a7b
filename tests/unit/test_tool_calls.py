"""Tool calls through the model layer: parsed from a real server's answer, cached with the answer,
and refused by a backend that has no tools."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.errors import ModelError
from shared.llm.base import BaseChatModel, Completion, ToolCall
from shared.llm.cache import DiskCache
from shared.llm.openai_compat import OpenAICompatModel, parse_completion
from tests.support.tool_agent_server import ToolAgentServer

TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "d", "parameters": {"type": "object", "properties": {}}}}]


def test_every_call_of_a_reply_is_parsed_with_its_raw_arguments() -> None:
    body = (
        b'{"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": ['
        b'{"id": "a", "type": "function", "function": {"name": "lookup", "arguments": "{\\"q\\": 1}"}},'
        b'{"id": "b", "type": "function", "function": {"name": "lookup", "arguments": {"q": 2}}},'
        b'{"id": "c", "type": "function", "function": {"arguments": "{}"}}]}, "finish_reason": "tool_calls"}]}'
    )
    done = parse_completion(body)
    assert done.tool_calls == (ToolCall("a", "lookup", '{"q": 1}'), ToolCall("b", "lookup", '{"q": 2}'))  # no name: skipped
    assert done.content is None and done.text == '{"q": 1}'  # text: the first call's arguments, as forced calls use it


def test_tool_calls_from_a_server_are_cached_with_the_answer(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache")
    with ToolAgentServer() as server:
        model = OpenAICompatModel(f"{server.base_url}#t", "t", server.base_url, "", backend="http", key_var=None, cache=cache)
        messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
        first = asyncio.run(model.chat_with_tools(messages, TOOLS, temperature=0))
        again = asyncio.run(model.chat_with_tools(messages, TOOLS, temperature=0))
    assert [c.arguments for c in first.tool_calls] == ["{}", "{not json"] and not first.cached
    assert again.cached and again.tool_calls == first.tool_calls and again.content is None
    assert len(server.requests) == 1 and server.requests[0]["tools"] == TOOLS and server.requests[0]["tool_choice"] == "auto"


def test_a_backend_without_tools_refuses_with_one_line() -> None:
    class NoTools(BaseChatModel):
        backend = "hf"

        async def _complete(self, messages: list, params: dict) -> Completion:
            return Completion("never")

    with pytest.raises(ModelError, match=r"hf:x \(hf\) cannot call tools: use an OpenAI-compatible endpoint"):
        asyncio.run(NoTools("hf:x", "x", "here").chat_with_tools([{"role": "user", "content": "hi"}], TOOLS))
