"""CLI entry points, atomic files, keys, and the environment registry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from shared import environment
from shared.errors import ConfigError
from shared.files import read_json, write_json_atomic
from shared.llm import keys

NCUSIM = [sys.executable, "-m", "shared.cli"]
PACKAGES = [Path(__file__).resolve().parents[2] / p for p in ("shared", "multiwoz_env", "tau_env")]


def ncusim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NCUSIM, *args], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_chat_with_a_scripted_model(tmp_path: Path) -> None:
    script = tmp_path / "r.json"
    script.write_text('["Hello, traveller."]')
    out = ncusim("chat", "hi", "--model", f"scripted:{script}")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Hello, traveller.\n"
    usage = json.loads(out.stderr.strip().splitlines()[-1])["usage"]
    assert usage["calls"] == 1 and usage["completion_tokens"] == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["chat", "hi", "--model", "foo:bar"], "unknown model spec 'foo:bar'"),
        (["chat", "hi", "--model", "gpt-4.1-mini"], "OPENAI_API_KEY is not set"),
        (["chat", "hi", "--model", "http://127.0.0.1:1/v1"], "names no model"),
        (["data", "--env", "tau", "--reference"], "reference dialogue folders exist for multiwoz only"),
        (["simulate"], "OPENAI_API_KEY is not set: set it (or put it in .env) for the paper's setup, or run the embedded model"),
        (["simulate", "--models", "local", "--behaviors", "grumpy"], "unknown behaviour 'grumpy'"),
        (["simulate", "--models", "local", "--n", "0"], "N must be between 1 and 1,000"),
        (["simulate", "--models", "local", "--behaviors", "missing.yaml"], "cannot read behaviour file missing.yaml"),
    ],
)
def test_errors_are_one_line_without_traceback(args: list[str], expected: str) -> None:
    out = ncusim(*args)
    assert out.returncode == 2
    assert out.stderr.startswith("ncusim: error: ") and expected in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_unreachable_endpoint_from_the_cli() -> None:
    out = ncusim("chat", "hi", "--model", "http://127.0.0.1:1/v1#m", env={"NCUSIM_RETRY_ATTEMPTS": "2", "NCUSIM_RETRY_BASE_DELAY": "0.01"})
    assert out.returncode == 2
    assert out.stderr.startswith("ncusim: error: cannot reach http://127.0.0.1:1/v1 after 2 attempts: is the server running")


def test_atomic_json_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_json_atomic(target, {"x": [1, 2]})
    assert target.read_text() == '{\n    "x": [\n        1,\n        2\n    ]\n}'
    write_json_atomic(target, {"x": "é"})
    assert read_json(target) == {"x": "é"}
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_redact_covers_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", "abcdefgh-1234")
    (tmp_path / ".env").write_text("CUSTOM_VALUE=zzzzzzzz-9999\nSHORT=abc\n")
    keys._dotenv_values.cache_clear()
    assert keys.redact("a abcdefgh-1234 b zzzzzzzz-9999 c abc") == "a *** b *** c abc"
    assert keys.lookup("CUSTOM_VALUE") == "zzzzzzzz-9999"


def test_environment_registry() -> None:
    assert environment.names() == ["multiwoz", "tau"]
    with pytest.raises(ConfigError, match="unknown environment 'nope'"):
        environment.get("nope")

    class Toy:
        name = "toy"
        user_profile = environment.UserProfile(greeting="Hi!", stop_token="<END>")

    def toy(**options: object) -> environment.Environment:
        return cast(environment.Environment, Toy())  # only the members this test reads

    environment.register("toy", toy)
    try:
        assert environment.get("toy").user_profile.stop_token == "<END>"
        assert "toy" in environment.names()
    finally:
        environment.unregister("toy")


def test_no_eval_or_exec_in_the_package() -> None:
    pattern = re.compile(r"(^|[^.\w])(eval|exec)\(")
    offenders = [
        f"{p}:{i}"
        for pkg in PACKAGES
        for p in pkg.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
