"""The vLLM launcher (shared/serving/) against real servers on 127.0.0.1.

`transformers serve` with the embedded model stands in for vLLM through VLLM_SERVER_CMD: two
"GPUs" on two ports, started once for the module. Planning, port checks, failing servers and pid
safety are fast tests with tiny Python commands as servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared import serving
from shared.errors import ConfigError, ModelError
from shared.files import write_json_atomic
from shared.llm import resolve
from shared.llm.openai_compat import MultiEndpointModel
from tests.support.openai_server import free_port

# pytest-xdist: the module's two servers start once, on one worker.
pytestmark = pytest.mark.xdist_group("launcher")

NCUSIM = [sys.executable, "-m", "shared.cli"]
TRANSFORMERS_SERVE = (
    f"{shlex.quote(str(Path(sys.executable).with_name('transformers')))} serve {{model}} --host {{host}} --port {{port}} --device cpu"  # noqa: E501
)


def ncusim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NCUSIM, *args], capture_output=True, text=True, env=env, timeout=300)


def free_ports(count: int) -> int:
    """A base port with `count` free ports from it."""
    for _ in range(50):
        base = free_port()
        if base + count <= 65535 and not any(serving.port_in_use("127.0.0.1", base + i) for i in range(count)):
            return base
    raise RuntimeError("no free port range")


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if marker.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    """No such process, or one that has exited and waits to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


# ---------------------------------------------------------------------------------------------
# Fast: planning and safety


def test_gpu_groups_follow_tp() -> None:
    assert serving.gpu_groups("0,1,3", 1) == [["0"], ["1"], ["3"]]
    assert serving.gpu_groups("0,1,2,3", 2) == [["0", "1"], ["2", "3"]]
    assert serving.gpu_groups(" 4 ", 1) == [["4"]]
    with pytest.raises(ConfigError, match=r"GPUS='0,1,3' has 3 GPUs, not a multiple of TP=2"):
        serving.gpu_groups("0,1,3", 2)
    for bad, message in (("", "GPUS is empty"), ("0,0", "lists a GPU twice"), ("0;1", "is not a GPU id")):
        with pytest.raises(ConfigError, match=message):
            serving.gpu_groups(bad, 1)


def test_names_ports_and_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert serving.served_name("Qwen/Qwen2.5-7B-Instruct") == "Qwen2.5-7B-Instruct"
    assert serving.served_name("/models/my-ft/") == "my-ft"
    assert serving.served_name("/models/my-ft", "agent1") == "agent1"
    with pytest.raises(ConfigError, match="NAME='a b'"):
        serving.served_name("x", "a b")
    # The default command is vLLM's, found on PATH; one server per TP group on consecutive ports.
    fake = tmp_path / "bin" / "vllm"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.delenv("VLLM_SERVER_CMD", raising=False)
    p = serving.plan("org/Model-7B", "0,1,2,3", 8100, 2, extra="--max-model-len 4096 --api-key sekret-value")
    assert (p.name, p.ports, p.groups, p.host) == ("Model-7B", [8100, 8101], [["0", "1"], ["2", "3"]], "127.0.0.1")
    assert p.commands[1] == [
        str(fake), "serve", "org/Model-7B", "--host", "127.0.0.1", "--port", "8101", "--tensor-parallel-size", "2",
        "--served-model-name", "Model-7B", "--max-model-len", "4096", "--api-key", "sekret-value",
    ]  # fmt: skip
    assert "sekret" not in serving.masked(p.commands[1]) and serving.masked(p.commands[1]).endswith("--api-key '***'")
    # VLLM_SERVER_CMD: placeholders filled inside words, other braces kept, no shell, EXTRA appended.
    monkeypatch.setenv("VLLM_SERVER_CMD", "srv {model} --bind={host}:{port} --dev {gpus} --tp {tp} --as {name} --json '{\"a\": 1}'")
    p = serving.plan("/m/my model", "3", 9000, 1, host="0.0.0.0", name="ft", extra="--x 'y z'")
    assert p.commands == [
        ["srv", "/m/my model", "--bind=0.0.0.0:9000", "--dev", "3", "--tp", "1", "--as", "ft", "--json", '{"a": 1}', "--x", "y z"]
    ]  # noqa: E501
    with pytest.raises(ConfigError, match="ports 65535-65536 are outside"):
        serving.plan("m", "0,1", 65535)


def test_a_port_in_use_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    marker = f"never-started-{uuid.uuid4().hex}"
    monkeypatch.setenv("VLLM_SERVER_CMD", f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(30)' {marker}")
    base = free_ports(2)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base + 1))
        holder.listen()
        with pytest.raises(ConfigError, match=rf"port\(s\) {base + 1} on 127.0.0.1 are in use .*PORT_BASE="):
            serving.serve("m", "0,1", base, timeout=5, echo=lambda _: None)
    assert processes_with(marker) == []
    assert not serving.state_path().exists() and not list(serving.serving_dir().glob("*.log"))


def test_a_server_that_fails_to_start_is_one_line_with_its_log_and_leaves_nothing(tmp_path: Path) -> None:
    # "GPU" 1 prints and exits 3; "GPU" 0 never gets healthy and must be stopped by the launcher.
    marker = f"failing-{uuid.uuid4().hex}"
    code = (
        "import os, sys, time\n"
        "print('visible', os.environ['CUDA_VISIBLE_DEVICES'], flush=True)\n"
        "if sys.argv[1] == '1':\n    print('boom', flush=True); sys.exit(3)\n"
        "time.sleep(60)"
    )
    results = tmp_path / "out"
    env = {
        "PATH": "/usr/bin:/bin",
        "NCUSIM_RESULTS": str(results),
        "VLLM_SERVER_CMD": f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} {{gpus}} {marker}",
    }
    base = free_ports(2)
    out = ncusim("serve-vllm", "--model", "org/broken", "--gpus", "0,1", "--port-base", str(base), "--timeout", "60", env=env)
    assert out.returncode == 2, out.stderr
    error = out.stderr.strip().splitlines()
    assert len(error) == 1
    log = results / "serving" / f"broken-{base + 1}.log"
    assert error[0].startswith(f"ncusim: error: the server for broken on port {base + 1} (GPUs 1) exited with code 3")
    assert f"log {log} ends: visible 1 | boom" in error[0]
    assert processes_with(marker) == []
    assert json.loads((results / "serving" / "servers.json").read_text()) == {"servers": []}
    assert not (results / "serving" / "endpoints.json").exists()


def test_a_command_that_cannot_run_stops_the_servers_already_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = f"first-{uuid.uuid4().hex}"
    first = tmp_path / "srv-0"
    first.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    first.chmod(0o755)
    # GPU 0 runs srv-0; srv-1 does not exist.
    monkeypatch.setenv("VLLM_SERVER_CMD", f"{tmp_path}/srv-{{gpus}} {marker}")
    with pytest.raises(ConfigError, match=rf"cannot start {tmp_path}/srv-1: No such file or directory"):
        serving.serve("m", "0,1", free_ports(2), timeout=5, echo=lambda _: None)
    assert processes_with(marker) == []
    assert serving.read_state() == []


def test_a_server_that_never_gets_healthy_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = f"silent-{uuid.uuid4().hex}"
    # Like vLLM with TP, the server has a worker process; both must go.
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}']); print('loading'); time.sleep(60)"  # noqa: E501
    monkeypatch.setenv("VLLM_SERVER_CMD", f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} {marker}")
    base = free_ports(1)
    with pytest.raises(ModelError, match=rf"port {base} \(GPUs 0\) was not healthy after 2 s .*ends: loading$"):
        serving.serve("org/slow", "0", base, timeout=2, echo=lambda _: None)
    assert processes_with(marker) == []
    assert serving.read_state() == []


def test_stop_never_signals_a_pid_that_is_not_ours_any_more(monkeypatch: pytest.MonkeyPatch) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        recorded = {"name": "x", "host": "127.0.0.1", "gpus": "0", "url": "http://127.0.0.1:9", "log": "x.log", "program": "vllm"}
        write_json_atomic(
            serving.state_path(),
            {
                "servers": [
                    # A pid that now runs something else (as after pid reuse), and one that has exited.
                    {**recorded, "port": 9, "pid": other.pid, "argc": 3, "args_sha256": serving._args_digest(["serve", "m"])},
                    {**recorded, "port": 10, "pid": gone.pid, "argc": 3, "args_sha256": serving._args_digest(["serve", "m"])},
                ]
            },
        )
        lines: list[str] = []
        assert serving.stop_servers(echo=lines.append) == 2
        assert lines == [f"x port 9 pid {other.pid}: not ours any more (pid reused), left alone", f"x port 10 pid {gone.pid}: already gone"]
        assert other.poll() is None
        assert serving.read_state() == []
    finally:
        other.kill()
        other.wait()


def test_stop_ends_the_workers_of_a_server_whose_main_process_died() -> None:
    marker = f"orphan-{uuid.uuid4().hex}"
    code = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'])"
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    leader.wait()
    deadline = time.monotonic() + 10
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker)
    entry = {"name": "x", "host": "127.0.0.1", "gpus": "0", "url": "http://127.0.0.1:9", "log": "x.log", "program": "python"}
    write_json_atomic(serving.state_path(), {"servers": [{**entry, "port": 9, "pid": leader.pid, "argc": 3, "args_sha256": "-"}]})
    lines: list[str] = []
    serving.stop_servers(grace=5, echo=lines.append)
    assert lines == [f"x port 9 pid {leader.pid}: stopped"]
    assert processes_with(marker) == []


# ---------------------------------------------------------------------------------------------
# Slow: two transformers servers with the embedded model, started once through the CLI


@dataclass
class Deployment:
    results: Path
    env: dict[str, str]
    base: int
    folder: Path

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{self.base}/v1", f"http://127.0.0.1:{self.base + 1}/v1"]

    def log(self, i: int) -> Path:
        return self.results / "serving" / f"tiny-{self.base + i}.log"


OTHER_ENTRY = {"model": "elsewhere", "endpoints": ["http://127.0.0.1:9/v1"]}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from shared.llm.embedded import ensure_embedded_model

    folder = ensure_embedded_model()
    results = tmp_path_factory.mktemp("serving-results")
    env = {k: v for k, v in os.environ.items() if k not in ("NCUSIM_VLLM_REGISTRY", "VLLM_ENDPOINTS", "VLLM_API_KEY")}
    env.update({"NCUSIM_RESULTS": str(results), "VLLM_SERVER_CMD": TRANSFORMERS_SERVE, "HF_HUB_OFFLINE": "1"})
    # One torch thread per server: two servers with a thread per core each on 2 busy cores made a
    # 3-token reply take ~10 s instead of ~0.4 s.
    env["OMP_NUM_THREADS"] = "1"
    # An entry for another model: starting and stopping must keep it.
    write_json_atomic(results / "serving" / "endpoints.json", {"models": {"other": OTHER_ENTRY}})
    base = free_ports(2)
    t0 = time.monotonic()
    args = ["--model", str(folder), "--gpus", "0,1", "--port-base", str(base), "--name", "tiny", "--timeout", "240"]
    out = ncusim("serve-vllm", *args, env=env)
    deployed = Deployment(results, env, base, folder)
    try:
        assert out.returncode == 0, out.stderr[-3000:]
        assert time.monotonic() - t0 < 240
        assert f"tiny: 2 server(s) healthy; registry {results / 'serving' / 'endpoints.json'}; model spec vllm:tiny" in out.stdout
        yield deployed
    finally:
        saved = os.environ.get("NCUSIM_RESULTS")
        os.environ["NCUSIM_RESULTS"] = str(results)
        try:
            serving.stop_servers(grace=10, echo=lambda _: None)
        finally:
            if saved is None:
                os.environ.pop("NCUSIM_RESULTS")
            else:
                os.environ["NCUSIM_RESULTS"] = saved


@pytest.fixture
def served(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    for var in ("NCUSIM_RESULTS", "VLLM_SERVER_CMD", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, deployment.env[var])
    return deployment


@pytest.mark.slow
def test_two_servers_are_healthy_recorded_and_registered(served: Deployment) -> None:
    state = serving.read_state()
    assert [(s["name"], s["port"], s["gpus"], s["host"]) for s in state] == [
        ("tiny", served.base, "0", "127.0.0.1"),
        ("tiny", served.base + 1, "1", "127.0.0.1"),
    ]
    for i, s in enumerate(state):
        assert serving.is_ours(s) and s["log"] == str(served.log(i)) and s["started_at"]
        assert s["command"].endswith(f"serve {served.folder} --host 127.0.0.1 --port {served.base + i} --device cpu")
    registry = json.loads((served.results / "serving" / "endpoints.json").read_text())
    # transformers serve lists the folder as its model, so requests must name it.
    assert registry == {"models": {"other": OTHER_ENTRY, "tiny": {"model": str(served.folder), "endpoints": served.endpoints}}}


@pytest.mark.slow
def test_vllm_spec_spreads_concurrent_chats_over_both_servers(served: Deployment) -> None:
    before = [served.log(i).read_text().count('"POST /v1/chat/completions HTTP/1.1" 200') for i in (0, 1)]
    model = resolve("vllm:tiny", cache=False)
    assert isinstance(model, MultiEndpointModel)
    assert [r.base_url for r in model.replicas] == served.endpoints
    assert model.default_params == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1000}

    async def four() -> list[str]:
        calls = [model.chat([{"role": "user", "content": f"Say {w}."}], max_tokens=3) for w in ("one", "two", "three", "four")]
        return [r.text for r in await asyncio.gather(*calls)]

    assert all(isinstance(t, str) for t in asyncio.run(four()))
    assert model.served == [2, 2]
    after = [served.log(i).read_text().count('"POST /v1/chat/completions HTTP/1.1" 200') for i in (0, 1)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2]


@pytest.mark.slow
def test_serving_status_and_refusing_a_second_start(served: Deployment) -> None:
    out = ncusim("serving-status", env=served.env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["name", "port", "gpus", "pid", "alive", "healthy", "log"]
    assert [line.split()[:2] + line.split()[4:] for line in lines[1:]] == [
        ["tiny", str(served.base), "true", "true", str(served.log(0))],
        ["tiny", str(served.base + 1), "true", "true", str(served.log(1))],
    ]
    with pytest.raises(ConfigError, match="'tiny' is already served on port"):
        serving.serve(str(served.folder), "0", served.base + 10, name="tiny", echo=lambda _: None)
    with pytest.raises(ConfigError, match=rf"port\(s\) {served.base}, {served.base + 1} on 127.0.0.1 are in use"):
        serving.serve(str(served.folder), "0,1", served.base, name="tiny2", echo=lambda _: None)
    assert len(serving.read_state()) == 2


@pytest.mark.slow
def test_stop_ends_exactly_the_started_servers_and_unregisters_them(served: Deployment) -> None:
    pids = [s["pid"] for s in serving.read_state()]
    out = ncusim("stop-vllm", "--name", "tiny", env=served.env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"tiny port {served.base + i} pid {pid}: stopped" for i, pid in enumerate(pids)]
    assert all(gone(pid) for pid in pids)
    assert serving.read_state() == []
    assert json.loads((served.results / "serving" / "endpoints.json").read_text()) == {"models": {"other": OTHER_ENTRY}}
    assert not any(serving.port_in_use("127.0.0.1", served.base + i) for i in (0, 1))
