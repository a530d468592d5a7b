"""resolve(spec): every spec form, the original's bare-name routing, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.llm import resolve
from shared.llm.keys import redact
from shared.llm.openai_compat import MultiEndpointModel, OpenAICompatModel
from shared.llm.scripted import ScriptedModel


def test_openai_and_openrouter_need_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY is not set .*export OPENAI_API_KEY=\.\.\. or add it to a \.env"):
        resolve("openai:gpt-4.1-mini")
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY is not set"):
        resolve("openrouter:qwen/qwen3-30b-a3b")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-test-0123456789")
    model = resolve("openai:gpt-4.1-mini")
    assert isinstance(model, OpenAICompatModel)
    assert (model.backend, model.model, model.base_url, model.structured_mode) == (
        "openai",
        "gpt-4.1-mini",
        "https://api.openai.com/v1",
        "json_schema",
    )
    router = resolve("openrouter:qwen/qwen3-30b-a3b")
    assert (router.backend, router.model, router.endpoint) == ("openrouter", "qwen/qwen3-30b-a3b", "https://openrouter.ai/api/v1")


def test_bare_names_route_like_the_original(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-test-0123456789")
    assert resolve("gpt-4.1-nano").backend == "openai"
    assert resolve("qwen/qwen3-30b-a3b").backend == "openrouter"
    # "gpt" with a slash goes to OpenRouter, as in the original's rule.
    assert resolve("openai/gpt-4.1").backend == "openrouter"


def test_key_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# keys\nexport OPENAI_API_KEY='sk-from-dotenv-123456'\n")
    model = resolve("openai:gpt-4o-mini")
    assert model.backend == "openai"
    assert redact("key sk-from-dotenv-123456 leaked") == "key *** leaked"


def test_http_spec_needs_a_model_name() -> None:
    model = resolve("http://127.0.0.1:9/v1#my-model")
    assert (model.backend, model.model, model.endpoint, model.structured_mode) == ("http", "my-model", "http://127.0.0.1:9/v1", "prompt")
    with pytest.raises(ConfigError, match="names no model: write it as http://127.0.0.1:9/v1#<model name>"):
        resolve("http://127.0.0.1:9/v1")


def test_unknown_specs_list_the_accepted_forms() -> None:
    for spec in ("foo:bar", "llama3", "", "vllm:"):
        with pytest.raises(ConfigError, match="unknown model spec"):
            resolve(spec)


def test_vllm_from_environment_and_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no vLLM endpoints for 'org/m': start servers with `make serve-vllm"):
        resolve("vllm:org/m")
    monkeypatch.setenv("VLLM_ENDPOINTS", "http://127.0.0.1:8000/v1, http://127.0.0.1:8001/v1")
    model = resolve("vllm:org/m")
    assert isinstance(model, MultiEndpointModel)
    assert [r.base_url for r in model.replicas] == ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"]
    assert model.default_params == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1000}
    monkeypatch.delenv("VLLM_ENDPOINTS")
    registry = tmp_path / "results" / "serving" / "endpoints.json"
    registry.parent.mkdir(parents=True)
    registry.write_text(json.dumps({"models": {"ft": {"model": "/models/ft-merged", "endpoints": ["http://127.0.0.1:8005/v1"]}}}))
    served = resolve("vllm:ft")
    assert isinstance(served, MultiEndpointModel)
    assert served.model == "/models/ft-merged" and len(served.replicas) == 1
    with pytest.raises(ConfigError, match="'other' is not served .*lists: ft"):
        resolve("vllm:other")


def test_scripted_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve(f"scripted:{tmp_path / 'none.json'}")
    bad = tmp_path / "bad.yaml"
    bad.write_text("replies: {a: 1}\n")
    with pytest.raises(ConfigError, match="must hold a list of strings"):
        resolve(f"scripted:{bad}")
    good = tmp_path / "ok.json"
    good.write_text('["one", "two"]')
    assert isinstance(resolve(f"scripted:{good}"), ScriptedModel)
