"""The ChatModel contract and the machinery every backend shares.

A backend only implements `_complete(messages, params) -> Completion`. The base class adds the
per-endpoint concurrency limit, retries, the temperature-0 disk cache, usage accounting by role,
and `structured()` on top of it, so all backends behave the same way.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from shared.errors import ModelError
from shared.llm import structured as st
from shared.llm.cache import DiskCache
from shared.llm.keys import scrub
from shared.llm.retry import RetryPolicy, call_with_retries, explain
from shared.llm.usage import ACTIVE_LEDGER, DEFAULT_LEDGER, UsageLedger
from shared.state_files import CachedCompletion, valid
from shared.tool_call import ToolCall

Message = dict[str, str]
Role = Literal["agent", "user", "helper", "judge"] | str
StructuredMode = Literal["json_schema", "prompt"]
T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("ncusim.llm")


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    content: str | None = None  # the message's own text (`text` falls back to the first call's arguments)


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    model: str  # the spec the caller resolved
    finish_reason: str | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    tool_calls: tuple[ToolCall, ...] = ()
    content: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    spec: str

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        role: Role = "agent",
    ) -> ChatResult: ...

    async def structured(
        self,
        messages: list[Message],
        schema: type[T] | dict[str, Any],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        role: Role = "helper",
        attempts: int = 3,
        function: dict[str, Any] | None = None,
    ) -> T | Any: ...


_LIMITS: dict[tuple[int, str], asyncio.Semaphore] = {}
_LIMITS_LOCK = threading.Lock()


def endpoint_limit(endpoint: str, size: int) -> asyncio.Semaphore:
    """One semaphore per (event loop, endpoint): every model object talking to a server shares it."""
    key = (id(asyncio.get_running_loop()), endpoint)
    with _LIMITS_LOCK:
        sem = _LIMITS.get(key)
        if sem is None:
            sem = _LIMITS[key] = asyncio.Semaphore(size)
        return sem


async def close_models(models: Any) -> None:
    """Close the connections each model holds for the running event loop (models without any are skipped)."""
    for model in models:
        close = getattr(model, "aclose", None)
        if close is not None:
            await close()


class BaseChatModel:
    backend: str = "base"
    key_var: str | None = None  # the environment variable holding this backend's key
    cacheable: bool = True
    supports_tools: bool = False  # the chat API's `tools` / `tool_choice` (OpenAI-compatible servers)

    def __init__(
        self,
        spec: str,
        model: str,
        endpoint: str,
        *,
        ledger: UsageLedger | None = None,
        cache: DiskCache | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 16,
        structured_mode: StructuredMode = "prompt",
        default_params: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.model = model
        self.endpoint = endpoint
        self.ledger = ledger or DEFAULT_LEDGER
        self.cache = cache if self.cacheable else None
        self.retry = retry or RetryPolicy.from_env()
        self.max_concurrency = max_concurrency
        self.structured_mode: StructuredMode = structured_mode
        self.default_params = dict(default_params or {})
        self._tools_refused = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        raise NotImplementedError

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        role: Role = "agent",
    ) -> ChatResult:
        asked = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p, "stop": stop, "seed": seed}
        params = {**self.default_params, **{k: v for k, v in asked.items() if v is not None}}
        return await self._call(messages, params, role)

    async def chat_with_tools(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        role: Role = "agent",
    ) -> ChatResult:
        """One turn of a tool-calling agent: the chat API's `tools` offered, the model free to call
        any number of them (`tool_calls`) or to write a message (`content`)."""
        if not self.supports_tools:
            raise ModelError(f"{self.spec} ({self.backend}) cannot call tools: use an OpenAI-compatible endpoint for --agent tool-calling")
        asked = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p}
        params = {**self.default_params, **{k: v for k, v in asked.items() if v is not None}, "tools": tools, "tool_choice": "auto"}
        return await self._call(messages, params, role)

    @property
    def active_ledger(self) -> UsageLedger:
        return ACTIVE_LEDGER.get() or self.ledger

    async def _call(self, messages: list[Message] | list[dict[str, Any]], params: dict[str, Any], role: Role) -> ChatResult:
        key = None
        if self.cache is not None and params.get("temperature") == 0:
            key = self.cache.key(
                {"backend": self.backend, "endpoint": self.endpoint, "model": self.model, "messages": messages, "params": params}
            )
            hit = self.cache.get(key)
            if hit is not None and valid(CachedCompletion, hit) is not None:  # a damaged entry is a miss
                self.active_ledger.record(role, self.spec, self.backend, self.model, hit["prompt_tokens"], hit["completion_tokens"], True)
                calls = tuple(ToolCall(**c) for c in hit.get("tool_calls") or ())
                return ChatResult(
                    hit["text"],
                    hit["prompt_tokens"],
                    hit["completion_tokens"],
                    0.0,
                    self.spec,
                    hit.get("finish_reason"),
                    True,
                    tool_calls=calls,
                    content=hit.get("content", hit["text"]),
                )

        def describe(exc: BaseException, attempts: int) -> ModelError:
            return explain(exc, self.where(), self.model, self.key_var, attempts)

        def on_retry(exc: BaseException) -> None:
            log.info("retrying %s after %s", self.spec, type(exc).__name__)
            self.active_ledger.record_retry(role, self.spec)

        async with endpoint_limit(self.endpoint, self.max_concurrency):
            done = await call_with_retries(lambda: self._complete(messages, params), self.retry, describe, on_retry)
        done.text = scrub(encodable(done.text))  # a server may echo the key it was sent: never written
        done.content = None if done.content is None else scrub(encodable(done.content))
        done.tool_calls = tuple(ToolCall(c.id, scrub(encodable(c.name)), scrub(encodable(c.arguments))) for c in done.tool_calls)
        cost = self.active_ledger.record(role, self.spec, self.backend, self.model, done.prompt_tokens, done.completion_tokens, False)
        if key is not None and self.cache is not None:
            self.cache.put(
                key,
                {
                    "text": done.text,
                    "prompt_tokens": done.prompt_tokens,
                    "completion_tokens": done.completion_tokens,
                    "finish_reason": done.finish_reason,
                    "content": done.content,
                    "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in done.tool_calls],
                },
            )
        return ChatResult(
            done.text,
            done.prompt_tokens,
            done.completion_tokens,
            cost,
            self.spec,
            done.finish_reason,
            tool_calls=done.tool_calls,
            content=done.content,
        )

    def where(self) -> str:
        return self.endpoint

    async def structured(
        self,
        messages: list[Message],
        schema: type[T] | dict[str, Any],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        role: Role = "helper",
        attempts: int = 3,
        function: dict[str, Any] | None = None,
    ) -> T | Any:
        """A validated object of `schema` (pydantic model class or JSON-schema dict).

        `function`: a function spec (name, description, parameters) to send as a forced tool call,
        as the original sent its specs (paper mode); the messages then go out exactly as given.
        A backend without tools, or a server that refuses them or answers without a call, falls
        back to the JSON-schema or prompt-and-parse path below.
        """
        base: dict[str, Any] = {**self.default_params}
        if temperature is not None:
            base["temperature"] = temperature
        if max_tokens is not None:
            base["max_tokens"] = max_tokens
        if function is not None and self.supports_tools and not self._tools_refused:
            forced: dict[str, Any] = {
                "tools": [{"type": "function", "function": function}],
                "tool_choice": {"type": "function", "function": {"name": function["name"]}},
            }
            try:
                result = await self._call([dict(m) for m in messages], {**base, **forced}, role)
                return st.validate(schema, result.text)
            except ModelError as exc:
                if not _refused_response_format(exc):
                    raise
                log.info("%s refused tools; falling back for structured calls", self.spec)
                self._tools_refused = True
            except ValueError:
                self.active_ledger.record_retry(role, self.spec, invalid_reply=True)
        convo = [dict(m) for m in messages]
        if self.structured_mode == "prompt":
            convo = _with_instruction(convo, schema)
        last_error = ""
        for attempt in range(attempts):
            params = dict(base)
            if self.structured_mode == "json_schema":
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": st.schema_name(schema), "schema": st.json_schema_of(schema)},
                }
            try:
                result = await self._call(convo, params, role)
            except ModelError as exc:
                if self.structured_mode == "json_schema" and _refused_response_format(exc):
                    log.info("%s has no JSON-schema mode; using prompt-and-parse", self.spec)
                    self.structured_mode = "prompt"
                    convo = _with_instruction(convo, schema)
                    continue
                raise
            try:
                return st.validate(schema, result.text)
            except ValueError as exc:
                last_error = str(exc)
                if attempt < attempts - 1:  # the re-ask below is a retry: count it with the transport ones
                    self.active_ledger.record_retry(role, self.spec, invalid_reply=True)
                if self.structured_mode == "json_schema" and isinstance(exc, st.NoJSON):
                    # The server took response_format and ignored it (transformers serve does).
                    log.info("%s ignored JSON-schema mode; using prompt-and-parse", self.spec)
                    self.structured_mode = "prompt"
                    convo = _with_instruction(convo, schema)
                    continue
                convo = convo + [
                    {"role": "assistant", "content": result.text},
                    {"role": "user", "content": f"That reply was not valid ({last_error}). Reply again with only the JSON object."},
                ]
        raise ModelError(f"{self.spec} gave no valid {st.schema_name(schema)} in {attempts} attempts (last problem: {last_error})")


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """Model text as UTF-8 can hold it. A server can send a lone surrogate (a JSON `\\ud83d` escape
    cut from its pair); it becomes U+FFFD here, so no file of the dialogue fails to write."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _with_instruction(messages: list[Message], schema: type[BaseModel] | dict[str, Any]) -> list[Message]:
    text = st.instruction(schema)
    if messages and messages[-1].get("role") == "user":
        return messages[:-1] + [{**messages[-1], "content": messages[-1]["content"] + text}]
    return messages + [{"role": "user", "content": text.strip()}]


def _refused_response_format(exc: ModelError) -> bool:
    text = str(exc)
    return ("HTTP 400" in text or "HTTP 422" in text) and "refused" in text


__all__ = ["BaseChatModel", "ChatModel", "ChatResult", "Completion", "Message", "ToolCall"]
