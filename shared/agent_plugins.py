"""Bring your own agent: a class with one async method, put in front of the non-collaborative users.

An agent plug-in is built once per agent model spec with the model the kit resolved for it (keys,
endpoint, retries, cache and usage accounting are the kit's; the plug-in may call it, wrap it in
its own scaffolding, or ignore it) and then asked for one step at a time:

    class MyAgent:
        def __init__(self, model: ChatModel) -> None: ...
        async def step(self, messages: list[dict], tools: list[dict]) -> AgentReply: ...

`messages` is the conversation so far in the chat API's shape (system prompt, user turns, the
agent's earlier steps with their `tool_calls`, one `tool` message per call); `tools` are the
environment's APIs as JSON-schema functions. The reply is text for the user, or tool calls that the
environment runs exactly as a tool-calling model's (`--agent tool-calling`). A plug-in is named by
`--agent` as `module:attr`, `path/to/file.py:attr`, or the name of an `ncusim.agents` entry point
of an installed package. `examples/lookup_agent.py` is a complete one.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shared.errors import ConfigError, NcusimError
from shared.llm.base import ChatModel
from shared.tool_call import ToolCall

ENTRY_POINT_GROUP = "ncusim.agents"


@dataclass(frozen=True)
class AgentReply:
    content: str | None = None  # what the user hears (when no tool is called)
    tool_calls: tuple[ToolCall, ...] = ()


@runtime_checkable
class Agent(Protocol):
    async def step(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AgentReply: ...


AgentFactory = Callable[[ChatModel], Agent]


def _from_file(path: Path, attr: str) -> Any:
    if not path.is_file():
        raise ConfigError(f"agent plug-in file {path} does not exist")
    name = "ncusim_agent_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"agent plug-in file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return getattr(module, attr, None)


def load_factory(reference: str) -> AgentFactory:
    """The agent class (or factory) `reference` names; ConfigError with the fix when it cannot be had."""
    target, sep, attr = reference.rpartition(":")
    if sep and target.endswith(".py"):
        found = _from_file(Path(target), attr)
    elif sep:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ConfigError(f"agent plug-in {reference!r}: cannot import {target} ({exc})") from None
        found = getattr(module, attr, None)
    else:
        matches = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == reference]
        if not matches:
            known = sorted(e.name for e in entry_points(group=ENTRY_POINT_GROUP))
            raise ConfigError(
                f"unknown agent {reference!r}: choose paper, tool-calling, module:attr, path/to/file.py:attr"
                + (f", or an installed plug-in ({', '.join(known)})" if known else "")
            )
        found = matches[0].load()
    if not callable(found):
        raise ConfigError(f"agent plug-in {reference!r} names nothing callable")
    factory: AgentFactory = found
    return factory


def plugin_dir_name(reference: str) -> str:
    """The folder suffix of a plug-in's results: its attribute or entry-point name."""
    return re.sub(r"[^\w.-]", "_", reference.rpartition(":")[2] or reference)


def build(factory: AgentFactory, model: ChatModel, reference: str) -> Agent:
    agent = factory(model)
    if not isinstance(agent, Agent):
        raise ConfigError(f"agent plug-in {reference!r} built a {type(agent).__name__} without an async step(messages, tools)")
    return agent


async def plugin_step(agent: Agent, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AgentReply:
    reply = await agent.step(messages, tools)
    if not isinstance(reply, AgentReply):
        raise NcusimError(f"the agent plug-in returned {type(reply).__name__}, not an AgentReply")
    return reply
