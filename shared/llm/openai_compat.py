"""Every OpenAI-compatible backend (OpenAI, OpenRouter, vLLM, any /v1 server): one POST per call.

The request goes through `http_transport` (aiohttp: proxies, TLS, pooling, bounded reads). Failures
are raised as the kit's own `transport_errors`, which the retry policy classifies: the kit builds
no exception of a library whose constructors change between releases (openai 3.63 did). Posting
the JSON body directly instead of through the openai SDK's request builder and response models
halved the event-loop time per call, which is what bounds a wave of concurrent dialogues
(`make bench`, latency suite).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from shared.llm.base import BaseChatModel, Completion, Message
from shared.llm.http_transport import HttpTransport
from shared.llm.retry import EmptyCompletion
from shared.llm.transport_errors import status_error
from shared.tool_call import tool_calls_of


def _text_of(content: Any) -> str | None:
    """A message's content: a string, or a list of parts whose text parts are joined (some servers send parts)."""
    if isinstance(content, str) or content is None:
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            part_text = part.get("text") if isinstance(part, dict) else None
            if isinstance(part_text, str):
                parts.append(part_text)
        return "".join(parts) if parts else None
    return None


def _call_arguments(message: dict[str, Any]) -> str | None:
    """The arguments of the first tool call (or of a legacy function call), as the JSON text the model wrote."""
    calls = message.get("tool_calls")
    call = calls[0] if isinstance(calls, list) and calls and isinstance(calls[0], dict) else None
    function = call.get("function") if call is not None else message.get("function_call")
    arguments = function.get("arguments") if isinstance(function, dict) else None
    return arguments if isinstance(arguments, str) else None


def parse_completion(body: bytes) -> Completion:
    """The first choice of a chat-completion body; anything unusable raises a retryable error."""
    data = json.loads(body)  # not JSON (a truncated or HTML body): JSONDecodeError, retried
    if not isinstance(data, dict):
        raise EmptyCompletion("the body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise EmptyCompletion("no choices")
    choice = choices[0]
    message = choice.get("message")
    content = text = _text_of(message.get("content")) if isinstance(message, dict) else None
    calls = tool_calls_of(message) if isinstance(message, dict) else ()
    if text is None and isinstance(message, dict):
        text = _call_arguments(message)  # a forced tool call (paper mode's function specs)
    if text is None:
        raise EmptyCompletion("no content")
    raw_usage = data.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    finish = choice.get("finish_reason")
    done = Completion(
        text,
        prompt_tokens if isinstance(prompt_tokens, int) else 0,
        completion_tokens if isinstance(completion_tokens, int) else 0,
        finish if isinstance(finish, str) else None,
        tool_calls=calls,
        content=content,
    )
    if not text.strip() and not calls:  # retried like any empty 200; used as the answer if every try is empty
        raise EmptyCompletion("empty content", completion=done)
    return done


class OpenAICompatModel(BaseChatModel):
    supports_tools = True

    def __init__(self, spec: str, model: str, base_url: str, api_key: str, *, backend: str, key_var: str | None, **kw: Any):
        self.backend = backend
        self.key_var = key_var
        # Credentials written into the URL (`http://user:pw@host/v1`) become a Basic Authorization
        # header; the URL kept and shown anywhere has none.
        parts = urlsplit(base_url.rstrip("/"))
        self._basic = None
        if "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            self._basic = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
            parts = parts._replace(netloc=host)
        self.base_url = urlunsplit(parts)
        self._api_key = api_key
        self._http = HttpTransport()
        super().__init__(spec, model, self.base_url, **kw)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("model objects hold credentials and are not serialisable")

    async def aclose(self) -> None:
        """Close this event loop's connections (once the loop is closed nothing can close them cleanly)."""
        await self._http.aclose()

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        body = json.dumps({"model": self.model, "messages": messages, **params}).encode()
        headers = {"Content-Type": "application/json"}
        if self._basic:
            headers["Authorization"] = f"Basic {self._basic}"
        elif self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        reply = await self._http.post(f"{self.base_url}/chat/completions", body, headers)
        if reply.status >= 400:
            raise status_error(reply.status, reply.headers, reply.content)
        return parse_completion(reply.content)


class MultiEndpointModel(BaseChatModel):
    """One served model behind several replicas (vLLM per GPU): each call goes to the least busy."""

    backend = "vllm"
    supports_tools = True

    def __init__(self, spec: str, model: str, replicas: list[OpenAICompatModel], **kw: Any):
        self.replicas = replicas
        self.in_flight = [0] * len(replicas)
        self.served = [0] * len(replicas)
        super().__init__(spec, model, f"vllm:{model}", **kw)
        self.max_concurrency = sum(r.max_concurrency for r in replicas)

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.aclose()

    def where(self) -> str:
        return "vLLM endpoints " + ", ".join(r.base_url for r in self.replicas)

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        index = min(range(len(self.replicas)), key=lambda i: (self.in_flight[i], self.served[i]))
        self.in_flight[index] += 1
        self.served[index] += 1
        try:
            return await self.replicas[index]._complete(messages, params)
        finally:
            self.in_flight[index] -= 1
