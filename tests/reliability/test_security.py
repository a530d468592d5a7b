"""Security: keys never reach disk or output, no code is evaluated or shelled, servers bind loopback.

- A real `ncusim simulate` (MultiWOZ, two dialogues, `openai:` specs against a local server through
  OPENAI_BASE_URL) with a unique key, from the environment and from a `.env` file; then every file
  the run wrote (results, the model-call cache, HOME, this checkout's results/) and its
  stdout/stderr are scanned for the key: raw, URL-quoted, hex and base64 at every alignment. A
  server whose error echoes the key must not put it into failure.json, run.json or the output.
- The package (shared, multiwoz_env, tau_env) has no eval/exec/compile/__import__, no os.system,
  no shell=True, no unsafe YAML or pickle loads; every subprocess use is on a reviewed allow-list.
- Every server the kit starts binds 127.0.0.1 unless told otherwise: the launcher's defaults,
  `make serve-local` / `make serve-vllm`, and every server the kit and its tests construct.
- Images run as non-root: checked in tests/docker/test_docker_files.py (not duplicated here).
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from shared.local_servers import JsonHandler, LocalServer, completion, scripted_reply
from tests.support.cli_env import isolated_env

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / name for name in ("shared", "multiwoz_env", "tau_env")]
KIT_RESULTS = ROOT / "results"
NCUSIM = [sys.executable, "-m", "shared.cli"]

# --- a local OpenAI-compatible server that records (and can echo) the key ----------------------


class KeyServer:
    """Answers every role of a MultiWOZ dialogue (shared.local_servers' scripted replies) on 127.0.0.1 and
    records the Authorization headers; with `echo_key`, agent calls get HTTP 400 whose error message
    quotes the caller's Authorization header, as careless proxies do, placed so that the key
    straddles the 300 characters of the body an error message keeps."""

    def __init__(self, echo_key: bool = False) -> None:
        self.auth: list[str] = []
        lock = threading.Lock()
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.send_json(200, {"object": "list", "data": [{"id": "gpt-4.1-nano", "object": "model"}]})

            def do_POST(self) -> None:
                body = self.read_json()
                header = self.headers.get("Authorization", "")
                with lock:
                    server.auth.append(header)
                text = scripted_reply(body)
                if echo_key and text.startswith("- Thought:"):
                    filler = "the request was malformed " * 9  # "Error code: 400 - {...'message': '" + this + "Bearer " ends near 290
                    self.send_json(400, {"error": {"message": f"{filler}(Authorization: {header})", "type": "invalid"}})
                    return
                self.send_json(200, completion(text, body.get("model")))

        self.httpd = LocalServer(("127.0.0.1", 0), Handler)
        self.url = self.httpd.start()

    def close(self) -> None:
        self.httpd.close()


@pytest.fixture
def key_server(request: pytest.FixtureRequest) -> Iterator[KeyServer]:
    server = KeyServer(echo_key=getattr(request, "param", False))
    yield server
    server.close()


# --- finding a secret in any of its encodings --------------------------------------------------


def encodings(secret: str) -> dict[str, bytes]:
    """The secret's bytes as they could appear in a file: raw, URL-quoted, hex, and base64 (standard
    and URL-safe) at each of the three alignments (the characters every encoding of it must contain)."""
    raw = secret.encode()
    forms = {"raw": raw, "url-quoted": quote(secret, safe="").encode(), "hex": raw.hex().encode()}
    random_part = re.sub(r"[^0-9a-f]", "", secret.split("+", 1)[-1])[:32]
    for start in range(0, len(random_part) - 11):  # a cut-off piece of the key: any 12 of its random characters
        forms[f"piece@{start}"] = random_part[start : start + 12].encode()
    for shift in range(3):
        first, last = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
        forms[f"base64+{shift}"] = base64.b64encode(b"\0" * shift + raw)[first:last]
        forms[f"urlsafe-base64+{shift}"] = base64.urlsafe_b64encode(b"\0" * shift + raw)[first:last]
    return forms


def leaks(secret: str, blobs: dict[str, bytes]) -> list[str]:
    forms = encodings(secret)
    return [f"{where} ({form})" for where, blob in blobs.items() for form, needle in forms.items() if needle in blob]


def files_under(*roots: Path, skip: tuple[Path, ...] = ()) -> dict[str, bytes]:
    found = {}
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path not in skip:
                found[str(path)] = path.read_bytes()
    return found


def test_the_scanner_finds_every_encoding() -> None:
    secret = "sk-ncusim+" + uuid.uuid4().hex + "/x"
    blobs = {
        "b64": b"Basic " + base64.b64encode(b"user:" + secret.encode()),
        "b64-shift": base64.b64encode(b"ab" + secret.encode() + b"z"),
        "urlsafe": base64.urlsafe_b64encode(b"x" + secret.encode()),
        "quoted": b"key=" + quote(secret, safe="").encode(),
        "hex": secret.encode().hex().encode(),
        "raw": b'{"auth": "Bearer ' + secret.encode() + b'"}',
    }
    assert {hit.split(" ")[0] for hit in leaks(secret, blobs)} == set(blobs)
    assert leaks(secret, {"cut": b"... Bearer " + secret[:22].encode()})  # a key cut short is still found
    assert leaks(secret, {"clean": b"Bearer *** and nothing else " + secret[:16].encode()}) == []


# --- a real run --------------------------------------------------------------------------------


def simulate(server: KeyServer, folder: Path, home: Path, key: str, via: str) -> subprocess.CompletedProcess[str]:
    # The call cache is written too, and scanned.
    env = {**isolated_env(folder, home, llm_cache=True), "OPENAI_BASE_URL": server.url}
    if via == "environment":
        env["OPENAI_API_KEY"] = key
    else:
        (folder / ".env").write_text(f"# the only copy of the key\nOPENAI_API_KEY={key}\n")
    command = [
        *NCUSIM, "simulate", "--env", "multiwoz", "--models", "openai:gpt-4.1-nano", "--user-model", "openai:gpt-4.1-mini",
        "--judge-model", "openai:gpt-4o-mini", "--scenarios", "PMUL0095", "--n", "2", "--attempts", "1",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, timeout=300)


def scan_run(folder: Path, home: Path, key: str, out: subprocess.CompletedProcess[str]) -> dict[str, bytes]:
    written = files_under(folder, home / "results", KIT_RESULTS, skip=(folder / ".env",))
    assert leaks(key, {**written, "stdout": out.stdout.encode(), "stderr": out.stderr.encode()}) == []
    return written


@pytest.mark.parametrize("via", ["environment", "dotenv"])
def test_the_key_never_reaches_disk_or_output(via: str, key_server: KeyServer, tmp_path: Path, data_home: Path) -> None:
    key = f"sk-ncusim+{uuid.uuid4().hex}/{via}"
    out = simulate(key_server, tmp_path, data_home, key, via)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert set(key_server.auth) == {f"Bearer {key}"}, "every call carried the key"
    written = scan_run(tmp_path, data_home, key, out)
    dialogues = sorted((tmp_path / "results" / "multiwoz" / "ours" / "gpt-4.1-nano" / "normal").glob("PMUL0095*_*"))
    assert len(dialogues) == 2 and all(
        (d / "grading_result.json").is_file() and (d / "goal_align_result.json").is_file() for d in dialogues
    )
    assert any("/cache/llm/" in path for path in written), "the call cache was written (and scanned)"
    assert len(written) > 40


@pytest.mark.parametrize("key_server", [True], indirect=True, ids=["echoing-server"])
def test_a_server_echoing_the_key_does_not_leak_it(key_server: KeyServer, tmp_path: Path, data_home: Path) -> None:
    key = f"sk-ncusim+{uuid.uuid4().hex}/echo"
    out = simulate(key_server, tmp_path, data_home, key, "environment")
    assert "Traceback" not in out.stdout + out.stderr
    scan_run(tmp_path, data_home, key, out)
    failures = sorted((tmp_path / "results").rglob("failure.json"))
    assert len(failures) == 2, out.stdout[-2000:] + out.stderr[-2000:]
    for failure in failures:
        error = json.loads(failure.read_text())["error"]
        assert "HTTP 400" in error and "(Authorization: Bearer ***" in error, error  # the message kept, the key masked


# --- no evaluated code, no shell -------------------------------------------------------------

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_ATTRIBUTES = {
    ("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execvp"), ("os", "execl"), ("os", "spawnv"), ("pty", "spawn"),
    ("pickle", "load"), ("pickle", "loads"), ("marshal", "loads"), ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"),
    ("asyncio", "create_subprocess_shell"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput"),
}  # fmt: skip
# Every subprocess the package starts, each an argv list without a shell; a new one is reviewed and added here.
SUBPROCESS_ALLOWED = {
    ("shared/serving/launch.py", "Popen"): "vLLM servers from an argv list (VLLM_SERVER_CMD is split with shlex, never run by a shell)",
    ("shared/training/cli.py", "call"): "relaunching `ncusim train` under `accelerate launch` for DDP",
    ("multiwoz_env/bench.py", "run"): "the harness benchmark's fixed `python -c` program (the original's subprocess hop)",
}


def python_files() -> Iterator[tuple[str, ast.AST]]:
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if "/data/" not in str(path):
                yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def dotted(node: ast.AST) -> tuple[str, ...]:
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        return (*dotted(node.value), node.attr)
    return ()


def test_no_eval_exec_shell_or_unsafe_loads_in_the_package() -> None:
    offences, subprocesses = [], set()
    for name, tree in python_files():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{name}:{node.lineno}"
            called = dotted(node.func)
            if len(called) == 1 and called[0] in FORBIDDEN_CALLS:
                offences.append(f"{where} {called[0]}()")
            if len(called) >= 2 and called[-2:] in FORBIDDEN_ATTRIBUTES:
                offences.append(f"{where} {'.'.join(called)}()")
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    offences.append(f"{where} shell={ast.unparse(keyword.value)}")
            if len(called) == 2 and called[0] == "subprocess" and called[1] in ("run", "call", "check_call", "check_output", "Popen"):
                subprocesses.add((name, called[1]))
    assert offences == []
    assert subprocesses == set(SUBPROCESS_ALLOWED), "a new subprocess use: review it (argv list, no shell) and add it here"


def test_the_grep_rule_of_the_unit_tests_still_holds() -> None:
    """The line-based rule in tests/unit (eval/exec called by name) agrees with the AST check above."""
    pattern = re.compile(r"(^|[^.\w])(eval|exec)\(")
    lines = [
        f"{path}:{number}"
        for package in PACKAGES
        for path in package.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert lines == []


# --- servers bind loopback -------------------------------------------------------------------

ZERO_ADDRESS_ALLOWED = {
    "shared/serving/commands.py": "_connect_host maps a 0.0.0.0 bind to 127.0.0.1 for clients",
    "shared/serving_cli.py": "the --host help text says 0.0.0.0 exposes the servers",
    "docker/compose.yaml": "inside the container; published on 127.0.0.1 only (tests/docker: test_compose_ports_bind_loopback_unless_told)",
}


def test_zero_address_appears_only_where_reviewed() -> None:
    found = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("multiwoz_env/*.py"), *ROOT.glob("tau_env/**/*.py"), ROOT / "Makefile"]:
        if "0.0.0.0" in path.read_text(encoding="utf-8"):
            found.add(str(path.relative_to(ROOT)))
    for path in (ROOT / "docker").glob("*"):
        if path.is_file() and "0.0.0.0" in path.read_text(encoding="utf-8"):
            found.add(str(path.relative_to(ROOT)))
    assert found <= set(ZERO_ADDRESS_ALLOWED), found - set(ZERO_ADDRESS_ALLOWED)


def test_every_host_parameter_defaults_to_loopback() -> None:
    defaults = []
    for name, tree in python_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = node.args.args + node.args.kwonlyargs
                values = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults + node.args.kw_defaults
                for argument, default in zip(arguments, values, strict=True):
                    if "host" in argument.arg and default is not None:
                        defaults.append((f"{name}:{node.name}", ast.literal_eval(default)))
    assert defaults and all(value == "127.0.0.1" for _, value in defaults), defaults
    expected = {"shared/serving/launch.py:plan", "shared/serving/launch.py:serve", "shared/serving_cli.py:serve_vllm"}
    assert {where for where, _ in defaults} >= expected


def test_servers_the_kit_and_its_tests_construct_bind_loopback() -> None:
    """Every HTTP server constructed in the kit, its scripts and its tests binds ("127.0.0.1", port)."""
    sources = [*PACKAGES, ROOT / "tests", ROOT / "scripts"]
    servers = []
    for source in sources:
        for path in sorted(source.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and dotted(node.func)[-1:] in (("ThreadingHTTPServer",), ("HTTPServer",), ("LocalServer",)):
                    address = node.args[0] if node.args else None
                    host = address.elts[0] if isinstance(address, ast.Tuple) else None
                    servers.append((f"{path.relative_to(ROOT)}:{node.lineno}", host.value if isinstance(host, ast.Constant) else None))
    assert len(servers) >= 4 and all(host == "127.0.0.1" for _, host in servers), servers


def test_the_vllm_launcher_binds_loopback_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import serving

    monkeypatch.delenv("VLLM_SERVER_CMD", raising=False)
    fake = tmp_path / "bin" / "vllm"  # only its path is used: `plan` builds commands, it starts nothing
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ.get('PATH', '')}")
    for command in serving.plan("org/model", gpus="0,1").commands:
        assert command[command.index("--host") + 1] == "127.0.0.1"
    told = serving.plan("org/model", gpus="0", host="0.0.0.0").commands[0]
    assert told[told.index("--host") + 1] == "0.0.0.0"
    monkeypatch.setenv("VLLM_SERVER_CMD", "srv {model} --bind {host}:{port}")
    assert serving.plan("org/model").commands[0] == ["srv", "org/model", "--bind", "127.0.0.1:8000"]
    shown = subprocess.run(
        [*NCUSIM, "serve-vllm", "--help"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    )
    assert re.search(r"--host\s.*\[default: 127\.0\.0\.1\]", shown.stdout), shown.stdout


def make_dry_run(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(["make", "-n", *args], capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **(env or {})})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_make_targets_bind_loopback_unless_told() -> None:
    assert "--host 127.0.0.1 --port 8011" in make_dry_run("serve-local")
    assert "--host '127.0.0.1'" in make_dry_run("serve-vllm", "MODEL=x", "GPUS=0")
    # HOST only counts on the make command line: an exported HOST (shells and WSL set such names) never rebinds.
    assert "--host '127.0.0.1'" in make_dry_run("serve-vllm", "MODEL=x", env={"HOST": "0.0.0.0"})
    assert "--host '0.0.0.0'" in make_dry_run("serve-vllm", "MODEL=x", "HOST=0.0.0.0")


# --- images ------------------------------------------------------------------------------------


def test_images_run_as_non_root_is_checked_in_the_docker_tests() -> None:
    """Not duplicated: tests/docker parses both Dockerfiles (final USER is ncusim, uid 10001) and the
    compose services' `user:`. This keeps those checks from disappearing unnoticed."""
    source = (ROOT / "tests" / "docker" / "test_docker_files.py").read_text(encoding="utf-8")
    for check in (
        "def test_final_stage_runs_as_non_root_ncusim",
        "def test_compose_services",
        "def test_compose_ports_bind_loopback_unless_told",
    ):
        assert check in source
