"""Hostile and broken inputs, second round: secrets. A key of any usable length, a password in a
model URL, and a key a server echoes in its reply text never reach a written file or the terminal.

Each case runs the real `ncusim simulate` against a scripted OpenAI-compatible server on 127.0.0.1
(the agent) with scripted user and helper models, then reads every file the run wrote.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.reliability.test_hostile_inputs import scripted_simulate
from tests.support import scripts
from tests.support.cli_env import isolated_env
from tests.support.openai_server import ScriptedOpenAIServer

NCUSIM = [sys.executable, "-m", "shared.cli"]


def simulate(tmp_path: Path, data_home: Path, agent: str, key: str | None) -> subprocess.CompletedProcess[str]:
    args = scripted_simulate(tmp_path, "--scenarios", "PMUL0095", "--n", "1", "--attempts", "1")
    args[args.index("--models") + 1] = agent
    # The user asks once, then ends: the agent answers one turn.
    args[args.index("--user-model") + 1] = scripts.write(
        tmp_path / "asker.json", ["I need a train to Cambridge, please.", *["Thanks. <END>"] * 20]
    )
    env = isolated_env(tmp_path, data_home)
    if key is not None:
        env["NCUSIM_HTTP_API_KEY"] = key
    return subprocess.run([*NCUSIM, *args], env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def leaks(tmp_path: Path, done: subprocess.CompletedProcess[str], *secrets: str) -> list[str]:
    """Every written file (and the two output streams) holding any of `secrets`."""
    found = [name for name, text in (("stdout", done.stdout), ("stderr", done.stderr)) if any(s in text for s in secrets)]
    for path in (tmp_path / "results").rglob("*"):
        if path.is_file() and any(s.encode() in path.read_bytes() for s in secrets):
            found.append(str(path.relative_to(tmp_path)))
    found += [str(p) for p in (tmp_path / "results").rglob("*") if any(s in p.name for s in secrets)]
    return found


def talk(text: str) -> str:
    return f'- Thought: t\n- Action: Talk("{text}")'


def test_a_short_key_echoed_in_an_error_body_is_in_no_file_and_no_output(data_home: Path, tmp_path: Path) -> None:
    key = "q7#Zk"  # five characters: used, redacted everywhere, with a warning
    with ScriptedOpenAIServer() as server:
        echo = {"error": {"message": f"invalid request from key {key} (Authorization: Bearer {key})"}}
        server.script(("status", 400, {}, echo))
        done = simulate(tmp_path, data_home, f"{server.base_url}#agent", key)
        assert {r["auth"] for r in server.requests} == {f"Bearer {key}"}  # the key was sent ...
    assert done.returncode == 1, done.stderr[-2000:]  # the dialogue failed, with its reason
    assert "1 dialogue(s) failed" in done.stdout and "invalid request from key ***" in done.stdout
    assert "ncusim: warning: NCUSIM_HTTP_API_KEY is only 5 characters long" in done.stderr
    assert leaks(tmp_path, done, key) == []  # ... and written nowhere: failure.json, run.json, logs, stdout


def test_a_password_in_a_model_url_is_in_no_file_name_file_or_output(data_home: Path, tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(*[("reply", talk("All set."))] * 10)
        url = server.base_url.replace("http://", "http://alice:Pw-0f-alice@")
        done = simulate(tmp_path, data_home, f"{url}#agent", None)
        sent = {r["auth"] for r in server.requests}
    assert done.returncode == 0, done.stderr[-2000:]
    assert sent and all(a and a.startswith("Basic ") for a in sent)  # the credentials did reach the server
    assert leaks(tmp_path, done, "Pw-0f-alice", "alice:") == []
    public = f"{server.base_url}#agent"
    meta = next((tmp_path / "results").rglob("run_meta.json")).read_text()
    assert f'"model": "{public}"' in meta  # recorded as the spec without its credentials


def test_a_key_a_server_puts_in_its_reply_text_is_scrubbed_before_it_is_written(data_home: Path, tmp_path: Path) -> None:
    key = "sk-local-Xq81vT0aa"
    with ScriptedOpenAIServer() as server:
        server.script(*[("reply", talk(f"Your booking is done; I used the key {key} for it."))] * 10)
        done = simulate(tmp_path, data_home, f"{server.base_url}#agent", key)
    assert done.returncode == 0, done.stderr[-2000:]
    assert leaks(tmp_path, done, key) == []
    replies = [p.read_text() for p in (tmp_path / "results").rglob("agent_response_list.json")]
    assert len(replies) == 1 and all("I used the key *** for it." in r for r in replies)


def test_a_key_too_short_to_redact_is_refused_before_anything_runs(data_home: Path, tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as server:
        done = simulate(tmp_path, data_home, f"{server.base_url}#agent", "x1")
        assert server.requests == []
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("ncusim: error: NCUSIM_HTTP_API_KEY is 2 characters long; keys under 4 characters cannot be kept")
    assert not (tmp_path / "results").exists()
