"""Every OpenAI-compatible backend (OpenAI, OpenRouter, vLLM, any /v1 server) through the openai SDK."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from shared.llm.base import BaseChatModel, Completion, Message
from shared.llm.retry import EmptyCompletion


class OpenAICompatModel(BaseChatModel):
    def __init__(self, spec: str, model: str, base_url: str, api_key: str, *, backend: str, key_var: str | None, **kw: Any):
        self.backend = backend
        self.key_var = key_var
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._clients: dict[int, AsyncOpenAI] = {}
        self._lock = threading.Lock()
        super().__init__(spec, model, self.base_url, **kw)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("model objects hold credentials and are not serialisable")

    def _client(self) -> AsyncOpenAI:
        # The SDK's connection pool belongs to one event loop: keep one client per loop.
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            client = self._clients.get(loop_id)
            if client is None:
                client = AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.retry.timeout)
                self._clients[loop_id] = client
            return client

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        # A plain POST through the SDK client: `chat.completions.create` first walks every message
        # through its type-driven transform, which cost more CPU than the rest of a runner call.
        response = await self._client().post(
            "/chat/completions", body={"model": self.model, "messages": messages, **params}, cast_to=ChatCompletion
        )
        if not response.choices:
            raise EmptyCompletion("no choices")
        choice = response.choices[0]
        text = choice.message.content if choice.message else None
        if text is None:
            raise EmptyCompletion("no content")
        usage = response.usage
        done = Completion(
            text,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            choice.finish_reason,
        )
        if not text.strip():  # retried like any empty 200; used as the answer if every try is empty
            raise EmptyCompletion("empty content", completion=done)
        return done


class MultiEndpointModel(BaseChatModel):
    """One served model behind several replicas (vLLM per GPU): each call goes to the least busy."""

    backend = "vllm"

    def __init__(self, spec: str, model: str, replicas: list[OpenAICompatModel], **kw: Any):
        self.replicas = replicas
        self.in_flight = [0] * len(replicas)
        self.served = [0] * len(replicas)
        super().__init__(spec, model, f"vllm:{model}", **kw)
        self.max_concurrency = sum(r.max_concurrency for r in replicas)

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
