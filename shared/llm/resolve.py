"""`resolve(spec) -> ChatModel`: the one place a model name becomes a backend.

Specs: `openai:<model>`, `openrouter:<model>`, `vllm:<name>`, `http(s)://host:port/v1#<model>`,
`hf:<folder or hub id>`, `local` (embedded default), `scripted:<file>`. Bare names route as the
original did: `gpt-*` without a slash to OpenAI, `org/name` to OpenRouter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from shared.llm.base import BaseChatModel
from shared.llm.cache import DiskCache, cache_enabled_by_default
from shared.llm.endpoints import vllm_endpoints
from shared.llm.keys import full_spec, optional_key, public_spec, require_key
from shared.llm.openai_compat import MultiEndpointModel, OpenAICompatModel
from shared.llm.retry import RetryPolicy
from shared.llm.usage import UsageLedger

OPENAI_URL = "https://api.openai.com/v1"
OPENROUTER_URL = "https://openrouter.ai/api/v1"
# The paper's vLLM agents decode greedily with at most 1000 new tokens.
VLLM_DEFAULTS = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1000}
SPEC_FORMS = "openai:<model>, openrouter:<model>, vllm:<name>, http://host:port/v1#<model>, hf:<path>, local, scripted:<file>"


def hosted_api(spec: str) -> tuple[str, str] | None:
    """(backend, model name) when a spec names a paid hosted API (OpenAI, OpenRouter), None for a
    model the user serves or loads (local, hf:, scripted:, vllm:, http(s)://). Bare names route as
    the original did: `gpt-*` without a slash to OpenAI, `org/name` to OpenRouter. No key is read."""
    spec = spec.strip()
    kind, sep, rest = spec.partition(":")
    if sep:
        return (kind, rest) if rest and kind in ("openai", "openrouter") else None
    if "gpt" in spec and "/" not in spec:
        return ("openai", spec)
    return ("openrouter", spec) if "/" in spec else None


def is_hosted_api(spec: str) -> bool:
    return hosted_api(spec) is not None


def _concurrency(default: int) -> int:
    raw = os.environ.get("NCUSIM_ENDPOINT_CONCURRENCY")
    try:
        return max(1, int(raw)) if raw else default
    except ValueError:
        raise ConfigError(f"NCUSIM_ENDPOINT_CONCURRENCY={raw!r} is not a whole number") from None


def resolve(
    spec: str,
    *,
    ledger: UsageLedger | None = None,
    cache: DiskCache | bool | None = None,
    retry: RetryPolicy | None = None,
    max_concurrency: int | None = None,
) -> BaseChatModel:
    """Build the ChatModel a spec names. Raises ConfigError with the fix for anything unusable.
    The model carries the spec without URL credentials (what usage, errors and files show); only
    its endpoint has them."""
    spec = public_spec(spec.strip())
    if cache is None:
        cache = cache_enabled_by_default()
    common: dict[str, Any] = {
        "ledger": ledger,
        "cache": DiskCache() if cache is True else (cache or None),
        "retry": retry,
        "max_concurrency": max_concurrency or _concurrency(16),
    }
    kind, sep, rest = spec.partition(":")
    if spec == "local":
        from shared.llm.embedded import ensure_embedded_model
        from shared.llm.hf_local import HFLocalModel

        return HFLocalModel(spec, str(ensure_embedded_model()), **{**common, "max_concurrency": max_concurrency or 1})
    if kind in ("http", "https") and sep:
        base_url, hash_, model = full_spec(spec).partition("#")
        if not hash_ or not model:
            raise ConfigError(f"{spec!r} names no model: write it as {spec.partition('#')[0]}#<model name>")
        key = optional_key("NCUSIM_HTTP_API_KEY", "EMPTY")
        return OpenAICompatModel(spec, model, base_url, key, backend="http", key_var="NCUSIM_HTTP_API_KEY", **common)
    if kind == "openai" and rest:
        key = require_key("OPENAI_API_KEY", f"needed for {spec}")
        url = os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        return OpenAICompatModel(spec, rest, url, key, backend="openai", key_var="OPENAI_API_KEY", structured_mode="json_schema", **common)
    if kind == "openrouter" and rest:
        key = require_key("OPENROUTER_API_KEY", f"needed for {spec}")
        url = os.environ.get("OPENROUTER_BASE_URL") or OPENROUTER_URL
        return OpenAICompatModel(
            spec, rest, url, key, backend="openrouter", key_var="OPENROUTER_API_KEY", structured_mode="json_schema", **common
        )
    if kind == "vllm" and rest:
        served, urls = vllm_endpoints(rest)
        key = optional_key("VLLM_API_KEY", "EMPTY")
        replicas = [OpenAICompatModel(f"{spec}@{u}", served, u, key, backend="vllm", key_var="VLLM_API_KEY", **common) for u in urls]
        return MultiEndpointModel(spec, served, replicas, default_params=VLLM_DEFAULTS, **common)
    if kind == "hf" and rest:
        from shared.llm.hf_local import HFLocalModel

        return HFLocalModel(spec, rest, **{**common, "max_concurrency": max_concurrency or 1})
    if kind == "scripted" and rest:
        from shared.llm.scripted import ScriptedModel

        return ScriptedModel(spec, Path(rest), **common)
    hosted = hosted_api(spec) if not sep else None  # a bare name, routed by the original's rule
    if hosted is not None:
        return resolve(f"{hosted[0]}:{hosted[1]}", ledger=ledger, cache=cache, retry=retry, max_concurrency=max_concurrency)
    raise ConfigError(f"unknown model spec {spec!r}: use one of {SPEC_FORMS}")
