"""Every OpenAI-compatible backend (OpenAI, OpenRouter, vLLM, any /v1 server): one POST per call.

The request goes straight through the HTTP client the openai SDK itself uses (httpx or httpx2,
whichever the installed SDK is built on), or, for a plain-http server on this machine, through
`loopback_http` (NCUSIM_LOOPBACK_HTTP=0 turns that off); failures are raised as the SDK's
exceptions, so retries classify them as before. Skipping the SDK's request builder and response models halved
the event-loop time per call, which is what bounds a wave of concurrent dialogues (`make bench`,
latency suite).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from typing import Any

import openai

from shared.llm.base import BaseChatModel, Completion, Message
from shared.llm.loopback_http import LoopbackClient, loopback_target
from shared.llm.retry import EmptyCompletion

# The SDK's own HTTP client class (an httpx or httpx2 AsyncClient with the SDK's pool limits).
_HttpClient = openai.DefaultAsyncHttpxClient


# The HTTP library behind that class (httpx or httpx2): its exceptions and Request/Response types.
_HTTP: Any = importlib.import_module(_HttpClient.__mro__[1].__module__.split(".")[0])
_TIMEOUT, _TRANSPORT = _HTTP.TimeoutException, _HTTP.TransportError


def _text_of(content: Any) -> str | None:
    """A message's content: a string, or a list of parts whose text parts are joined (some servers send parts)."""
    if isinstance(content, str) or content is None:
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(parts) if parts else None
    return None


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
    text = _text_of(message.get("content")) if isinstance(message, dict) else None
    if text is None:
        raise EmptyCompletion("no content")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    finish = choice.get("finish_reason")
    done = Completion(
        text,
        usage.get("prompt_tokens") if isinstance(usage.get("prompt_tokens"), int) else 0,
        usage.get("completion_tokens") if isinstance(usage.get("completion_tokens"), int) else 0,
        finish if isinstance(finish, str) else None,
    )
    if not text.strip():  # retried like any empty 200; used as the answer if every try is empty
        raise EmptyCompletion("empty content", completion=done)
    return done


def status_error(response: Any) -> openai.APIStatusError:
    """The SDK's exception for an HTTP error status (status code, body and Retry-After kept)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:1000] or None
    detail = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        detail = detail["message"]
    return openai.APIStatusError(f"Error code: {response.status_code} - {detail}", response=response, body=body)


class OpenAICompatModel(BaseChatModel):
    def __init__(self, spec: str, model: str, base_url: str, api_key: str, *, backend: str, key_var: str | None, **kw: Any):
        self.backend = backend
        self.key_var = key_var
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._clients: dict[int, Any] = {}  # event loop id -> HTTP client
        self._loopback = loopback_target(self.base_url)  # (host, port, path) of a server on this machine
        self._lock = threading.Lock()
        super().__init__(spec, model, self.base_url, **kw)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("model objects hold credentials and are not serialisable")

    def _client(self) -> Any:
        # A connection pool belongs to one event loop: keep one client per loop. (Pools of at most
        # 8 connections, instead of one pool for all, made no difference measurable by the latency suite.)
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            client = self._clients.get(loop_id)
            if client is None:
                if self._loopback:
                    client = LoopbackClient(self._loopback[0], self._loopback[1])
                else:
                    client = _HttpClient(timeout=self.retry.timeout)
                self._clients[loop_id] = client
            return client

    async def aclose(self) -> None:
        """Close this event loop's connections (once the loop is closed nothing can close them cleanly)."""
        with self._lock:
            client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        body = json.dumps({"model": self.model, "messages": messages, **params}).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if self._loopback:
            return await self._complete_loopback(body, headers)
        try:
            response = await self._client().post(f"{self.base_url}/chat/completions", content=body, headers=headers)
        except _TIMEOUT as exc:
            raise openai.APITimeoutError(request=getattr(exc, "_request", None)) from None  # type: ignore[arg-type]
        except _TRANSPORT as exc:  # refused, reset or dropped: retried like the SDK's connection errors
            request = getattr(exc, "_request", None)
            raise openai.APIConnectionError(message=f"Connection error: {type(exc).__name__}", request=request) from None  # type: ignore[arg-type]
        if response.status_code >= 400:
            raise status_error(response)
        return parse_completion(response.content)

    async def _complete_loopback(self, body: bytes, headers: dict[str, str]) -> Completion:
        assert self._loopback is not None
        path = f"{self._loopback[2]}/chat/completions"
        try:
            reply = await self._client().post(path, body, headers)
        except (OSError, asyncio.IncompleteReadError) as exc:  # refused, reset, dropped, garbled: retried
            raise openai.APIConnectionError(message=f"Connection error: {type(exc).__name__}", request=None) from None  # type: ignore[arg-type]
        if reply.status >= 400:
            request = _HTTP.Request("POST", f"{self.base_url}/chat/completions")
            raise status_error(_HTTP.Response(reply.status, headers=reply.headers, content=reply.content, request=request))
        return parse_completion(reply.content)


class MultiEndpointModel(BaseChatModel):
    """One served model behind several replicas (vLLM per GPU): each call goes to the least busy."""

    backend = "vllm"

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
