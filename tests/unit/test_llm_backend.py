"""The OpenAI-compatible backend against a real scripted server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel

from shared.errors import ModelError
from shared.llm import RetryPolicy, UsageLedger, resolve
from shared.llm.cache import DiskCache
from tests.support.openai_server import ScriptedOpenAIServer, free_port

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=5.0)
HELLO = [{"role": "user", "content": "hello"}]


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


def test_chat_returns_text_and_usage(openai_server: ScriptedOpenAIServer) -> None:
    ledger = UsageLedger()
    model = resolve(f"{openai_server.base_url}#tiny", ledger=ledger, retry=FAST)
    result = run(model.chat(HELLO, temperature=0.3, max_tokens=20, stop=["\n"], role="user"))
    assert result.text == "echo: hello"
    assert (result.prompt_tokens, result.completion_tokens, result.cached) == (11, 7, False)
    sent = openai_server.requests[0]["body"]
    assert (sent["model"], sent["temperature"], sent["max_tokens"], sent["stop"]) == ("tiny", 0.3, 20, ["\n"])
    assert openai_server.requests[0]["auth"] == "Bearer EMPTY"
    usage = ledger.by_role()["user"]
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd) == (1, 11, 7, 0.0)


def test_transient_failures_are_retried_and_counted(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.script(
        ("status", 429, {"Retry-After": "0"}),
        ("status", 500, {}),
        ("status", 503, {}),
        ("empty",),
        ("garbage",),
        ("drop",),
        ("reply", "finally"),
    )
    ledger = UsageLedger()
    model = resolve(f"{openai_server.base_url}#tiny", ledger=ledger, retry=RetryPolicy(attempts=8, base_delay=0.01, max_delay=0.05))
    assert run(model.chat(HELLO, role="agent")).text == "finally"
    assert len(openai_server.requests) == 7
    assert ledger.by_role()["agent"].retries == 6
    assert ledger.by_role()["agent"].calls == 1


def test_retry_budget_exhausted_is_one_clear_error(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.script(*[("status", 503, {})] * 4)
    model = resolve(f"{openai_server.base_url}#tiny", retry=FAST)
    with pytest.raises(ModelError, match=r"kept failing \(HTTP 503\) after 4 attempts"):
        run(model.chat(HELLO))


def test_retry_after_is_honoured(openai_server: ScriptedOpenAIServer) -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=30.0)
    assert policy.delay(0, 2.5) == 2.5
    assert policy.delay(0, 120.0) == 30.0  # capped
    assert 0.005 <= policy.delay(0, None) <= 0.01


def test_rejected_key_fails_at_once_without_leaking_it(openai_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-very-secret-value-42"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    # The server reflects the key in its error body, as some proxies do.
    openai_server.script(("status", 401, {}, {"error": {"message": f"Incorrect API key provided: {secret}"}}))
    model = resolve("openai:gpt-4.1-mini", retry=FAST)
    with pytest.raises(ModelError) as info:
        run(model.chat(HELLO))
    assert "rejected the credentials (HTTP 401): check OPENAI_API_KEY" in str(info.value)
    assert secret not in str(info.value)
    assert len(openai_server.requests) == 1
    assert openai_server.requests[0]["auth"] == f"Bearer {secret}"


def test_bad_request_body_is_redacted(openai_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCUSIM_HTTP_API_KEY", "tok-abcdefgh12345")
    openai_server.script(("status", 400, {}, {"error": {"message": "context too long for tok-abcdefgh12345"}}))
    with pytest.raises(ModelError, match=r"refused the request for 'tiny' \(HTTP 400\)") as info:
        run(resolve(f"{openai_server.base_url}#tiny", retry=FAST).chat(HELLO))
    assert "tok-abcdefgh12345" not in str(info.value)


def test_unreachable_endpoint() -> None:
    model = resolve(f"http://127.0.0.1:{free_port()}/v1#tiny", retry=FAST)
    with pytest.raises(ModelError, match="cannot reach http://127.0.0.1:.* after 4 attempts: is the server running"):
        run(model.chat(HELLO))


def test_temperature_zero_calls_are_cached(openai_server: ScriptedOpenAIServer, tmp_path: Path) -> None:
    ledger = UsageLedger()
    cache = DiskCache(tmp_path / "cache")
    model = resolve(f"{openai_server.base_url}#tiny", ledger=ledger, cache=cache, retry=FAST)
    first = run(model.chat(HELLO, temperature=0))
    second = run(resolve(f"{openai_server.base_url}#tiny", ledger=ledger, cache=cache).chat(HELLO, temperature=0))
    assert (first.text, first.cached, second.text, second.cached) == ("echo: hello", False, "echo: hello", True)
    assert len(openai_server.requests) == 1
    run(model.chat(HELLO, temperature=0, max_tokens=5))  # different parameters: a new request
    run(model.chat(HELLO, temperature=1.0))
    run(model.chat(HELLO, temperature=1.0))  # sampled calls are never cached
    assert len(openai_server.requests) == 4
    assert ledger.total().cached_calls == 1


def test_per_endpoint_concurrency_limit(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.script(*[("sleep", 0.2, "ok")] * 8)
    model = resolve(f"{openai_server.base_url}#tiny", retry=FAST, max_concurrency=3)

    async def many() -> list[str]:
        results = await asyncio.gather(*(model.chat(HELLO) for _ in range(8)))
        return [r.text for r in results]

    assert run(many()) == ["ok"] * 8
    assert openai_server.max_in_flight == 3


def test_vllm_replicas_share_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOpenAIServer() as a, ScriptedOpenAIServer() as b:
        a.script(*[("sleep", 0.1, "a")] * 10)
        b.script(*[("sleep", 0.1, "b")] * 10)
        monkeypatch.setenv("VLLM_ENDPOINTS", f"{a.base_url},{b.base_url}")
        model = resolve("vllm:org/served", retry=FAST)

        async def many() -> list[str]:
            return [r.text for r in await asyncio.gather(*(model.chat(HELLO) for _ in range(10)))]

        texts = run(many())
        assert sorted(texts) == ["a"] * 5 + ["b"] * 5
        body = a.requests[0]["body"]
        assert (body["model"], body["temperature"], body["top_p"], body["max_tokens"]) == ("org/served", 0.0, 1.0, 1000)


def test_costs_follow_the_price_table(openai_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    ledger = UsageLedger()
    result = run(resolve("openai:gpt-4.1-mini", ledger=ledger, retry=FAST).chat(HELLO, role="user"))
    assert result.cost_usd == pytest.approx((11 * 0.40 + 7 * 1.60) / 1e6)
    run(resolve("openai:gpt-unknown-9", ledger=ledger, retry=FAST).chat(HELLO, role="user"))
    usage = ledger.by_role()["user"]
    assert (usage.calls, usage.unpriced_calls) == (2, 1)
    total = ledger.to_dict()["total"]
    assert isinstance(total, dict) and total["cost_usd"] == pytest.approx(result.cost_usd)


class City(BaseModel):
    city: str


def test_json_schema_mode_and_fallback_to_prompt(openai_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    openai_server.script(("reply", '{"city": "Paris"}'))
    model = resolve("openai:gpt-4.1-mini", retry=FAST)
    assert run(model.structured(HELLO, City)) == City(city="Paris")
    fmt = openai_server.requests[0]["body"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"
    # A server without JSON-schema mode refuses the field; the model switches to prompt-and-parse.
    openai_server.script(("status", 400, {}, {"error": {"message": "response_format is not supported"}}), ("reply", '{"city": "Rome"}'))
    assert run(model.structured(HELLO, City)) == City(city="Rome")
    retry_body = openai_server.requests[-1]["body"]
    assert "response_format" not in retry_body
    assert retry_body["messages"][-1]["content"].endswith('Reply with a JSON object like {"city": "<string>"} and nothing else.')
    assert model.structured_mode == "prompt"


def test_server_that_ignores_json_schema_mode(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.script(("reply", "Paris is the capital."), ("reply", '{"city": "Paris"}'))
    model = resolve(f"{openai_server.base_url}#tiny", retry=FAST)
    model.structured_mode = "json_schema"
    assert run(model.structured(HELLO, City)) == City(city="Paris")
    assert "response_format" in openai_server.requests[0]["body"]
    assert "response_format" not in openai_server.requests[1]["body"]
    assert model.structured_mode == "prompt"
