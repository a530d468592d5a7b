"""vLLM launcher: one OpenAI-compatible server per GPU group, and the endpoint registry `vllm:<name>` reads.

`make serve-vllm MODEL=<hf id or path> GPUS=0,1,3 [PORT_BASE=8000] [TP=1] [HOST=127.0.0.1] [NAME=] [EXTRA=] [TIMEOUT=900]`
splits GPUS into groups of TP and starts, for group i,

    vllm serve <MODEL> --host <HOST> --port <PORT_BASE+i> --tensor-parallel-size <TP> --served-model-name <NAME> <EXTRA>

with CUDA_VISIBLE_DEVICES=<group>, as a detached process (its own session, so it outlives `make`).
Its output goes to `<results>/serving/<NAME>-<port>.log`; `<results>/serving/servers.json` records
pid, port, GPUs, model, name, log, command and start time. The launcher waits until every
`GET /health` answers 200 (TIMEOUT seconds); if a server exits or the time runs out it stops every
server it started and fails with the tail of the failing log. Then it writes the registry
(`shared.llm.endpoints`: NCUSIM_VLLM_REGISTRY or `<results>/serving/endpoints.json`), replacing the
entry for NAME and keeping the others. The registry's served model name is what the servers list
at `/v1/models` (NAME for vLLM).

VLLM_SERVER_CMD replaces the vLLM command by a template with the placeholders {model} {host} {port}
{gpus} {tp} {name}; it is split like a shell line (shlex, never run through a shell), each
placeholder filled inside its word, other braces left alone, and EXTRA appended. The tests use
`transformers serve {model} --host {host} --port {port} --device cpu` with the embedded model.

`stop_servers()` stops exactly what servers.json lists: a pid is signalled only while its
command line and start time are still the ones recorded (a recycled pid is never touched);
SIGTERM to the process group, SIGKILL after a grace period. Servers bind 127.0.0.1 unless HOST
says otherwise. Pass a server key through the environment (VLLM_API_KEY, which vLLM and the
kit's client both read); an `--api-key` value in EXTRA is masked in servers.json and messages.
Needs Linux (/proc).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.errors import ConfigError, ModelError
from shared.files import read_json, write_json_atomic
from shared.llm.endpoints import registry_path
from shared.llm.keys import lookup, redact
from shared.paths import results_dir
from shared.state_files import ServingState, valid

DEFAULT_PORT_BASE = 8000
DEFAULT_TIMEOUT_S = 900.0
DEFAULT_GRACE_S = 20.0
TAIL_LINES = 20
PLACEHOLDERS = ("model", "host", "port", "gpus", "tp", "name")
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GPU_OK = re.compile(r"^(\d+|(GPU|MIG)-[A-Za-z0-9/:_.-]+)$")  # indices, GPU-/MIG- UUIDs (as CUDA_VISIBLE_DEVICES takes them)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_SECRET_FLAGS = ("--api-key",)

Echo = Callable[[str], None]


def serving_dir() -> Path:
    return results_dir() / "serving"


def state_path() -> Path:
    return serving_dir() / "servers.json"


# ---------------------------------------------------------------------------------------------
# Planning: GPU groups, names, commands (pure, unit-tested)


def gpu_groups(gpus: str, tp: int) -> list[list[str]]:
    """`0,1,3` with TP=1 -> [[0], [1], [3]]; `0,1,2,3` with TP=2 -> [[0, 1], [2, 3]]."""
    if tp < 1:
        raise ConfigError(f"TP={tp}: the tensor-parallel size must be at least 1")
    ids = [g.strip() for g in gpus.split(",") if g.strip()]
    if not ids:
        raise ConfigError("GPUS is empty: give the GPU ids to serve on, e.g. GPUS=0,1")
    bad = [g for g in ids if not _GPU_OK.match(g)]
    if bad:
        raise ConfigError(f"GPUS={gpus!r}: {bad[0]!r} is not a GPU id (use indices like 0,1,3 or GPU UUIDs)")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"GPUS={gpus!r} lists a GPU twice")
    if len(ids) % tp:
        raise ConfigError(f"GPUS={gpus!r} has {len(ids)} GPUs, not a multiple of TP={tp}: give {tp} GPUs per server")
    return [ids[i : i + tp] for i in range(0, len(ids), tp)]


def served_name(model: str, name: str | None = None) -> str:
    """NAME if given, else the last part of MODEL (a folder's name or an HF id's model part)."""
    if name:
        if not _NAME_OK.match(name):
            raise ConfigError(f"NAME={name!r}: use letters, digits, '.', '_' and '-' only (it names files and `vllm:<name>`)")
        return name
    last = model.rstrip("/").rsplit("/", 1)[-1]
    derived = re.sub(r"[^A-Za-z0-9._-]+", "-", last).strip("-._")
    if not derived:
        raise ConfigError(f"cannot derive a served name from MODEL={model!r}: set NAME=")
    return derived


def _fill(word: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], word)


def _vllm_executable() -> str:
    # The venv's own vllm first: `make` does not activate the venv.
    beside = Path(sys.executable).with_name("vllm")
    found = str(beside) if beside.is_file() else shutil.which("vllm")
    if not found:
        raise ConfigError(
            "vLLM is not installed: `make serve-vllm` installs it (pip install -e '.[vllm]'), "
            "or set VLLM_SERVER_CMD to another OpenAI-compatible server command"
        )
    return found


def server_command(model: str, host: str, port: int, gpus: list[str], tp: int, name: str, extra: str = "") -> list[str]:
    """The argv of one server: VLLM_SERVER_CMD's template if set, else `vllm serve ...`; EXTRA appended."""
    try:
        extra_args = shlex.split(extra) if extra else []
    except ValueError as exc:
        raise ConfigError(f"EXTRA cannot be split like a shell line: {exc}") from None
    template = os.environ.get("VLLM_SERVER_CMD", "").strip()
    if template:
        try:
            words = shlex.split(template)
        except ValueError as exc:
            raise ConfigError(f"VLLM_SERVER_CMD cannot be split like a shell line: {exc}") from None
        values = {"model": model, "host": host, "port": str(port), "gpus": ",".join(gpus), "tp": str(tp), "name": name}
        return [_fill(w, values) for w in words] + extra_args
    return [
        _vllm_executable(), "serve", model, "--host", host, "--port", str(port),
        "--tensor-parallel-size", str(tp), "--served-model-name", name, *extra_args,
    ]  # fmt: skip


def masked(argv: list[str]) -> str:
    """The command as a shell line with secrets masked (for servers.json and messages)."""
    shown: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            shown.append("***")
            hide_next = False
            continue
        flag, eq, _ = word.partition("=")
        if flag in _SECRET_FLAGS:
            if eq:
                shown.append(f"{flag}=***")
            else:
                shown.append(word)
                hide_next = True
            continue
        shown.append(word)
    return redact(shlex.join(shown))


def _connect_host(host: str) -> str:
    """Where clients on this machine reach a server bound to `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Process identity through /proc: signal only what we started


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields from field 3 (state) on; None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.rpartition(")")[2].split()


def _proc_start(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return int(stat[19]) if stat else None  # field 22: start time in clock ticks since boot


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def _args_digest(args: list[str]) -> str:
    return hashlib.sha256("\0".join(args).encode()).hexdigest()


def _running(pid: int) -> bool:
    stat = _proc_stat(pid)
    if stat is None:
        return False
    return stat[0] not in ("Z", "X")  # a zombie has exited; its parent reaps it


def is_ours(entry: dict[str, Any]) -> bool:
    """The recorded pid still runs the recorded command (started at the recorded time)."""
    pid = int(entry["pid"])
    if not _running(pid):
        return False
    if entry.get("proc_start") is not None and _proc_start(pid) != entry["proc_start"]:
        return False
    cmdline = _proc_cmdline(pid)
    argc = int(entry["argc"])
    if not cmdline or len(cmdline) < argc:
        return False
    # A script runs as `<interpreter> <script> args...`: compare the arguments, then the program's name.
    if _args_digest(cmdline[len(cmdline) - argc + 1 :]) != entry["args_sha256"]:
        return False
    program = os.path.basename(entry["program"])
    return any(os.path.basename(word) == program for word in cmdline[: len(cmdline) - argc + 1])


def _session_members(sid: int) -> list[int]:
    """Live processes of session `sid` (our servers are session leaders, children included)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat and stat[0] not in ("Z", "X") and int(stat[3]) == sid:
            members.append(int(entry.name))
    return members


def _signal_session(sid: int, sig: signal.Signals) -> None:
    """The server's process group, and any member of its session that moved to another group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for member in _session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, sig)


def _stop_one(entry: dict[str, Any], grace: float) -> str:
    """Stop one recorded server; returns what happened (for the message)."""
    pid = int(entry["pid"])
    if is_ours(entry):
        pass
    elif _running(pid):
        return "not ours any more (pid reused), left alone"
    elif not _session_members(pid):
        # A session id is not reused while any member lives, so leftovers in it are our server's children.
        return "already gone"
    _signal_session(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _running(pid) and not _session_members(pid):
            return "stopped"
        time.sleep(0.2)
    _signal_session(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_running(pid) or _session_members(pid)):
        time.sleep(0.1)
    return "killed after the grace period"


# ---------------------------------------------------------------------------------------------
# State and registry files (read-modify-write under one lock)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    folder = serving_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def read_state() -> list[dict[str, Any]]:
    try:
        state = read_json(state_path())
    except FileNotFoundError:
        return []
    except ValueError:
        state = None
    parsed = valid(ServingState, state)
    if parsed is None:
        raise ConfigError(f"{state_path()} is not a server list this kit wrote: stop the servers by hand and delete it")
    return [entry.model_dump() for entry in parsed.servers]


def _write_state(servers: list[dict[str, Any]]) -> None:
    write_json_atomic(state_path(), {"servers": servers}, indent=2)


def _read_registry() -> dict[str, Any]:
    try:
        registry = read_json(registry_path())
    except FileNotFoundError:
        return {"models": {}}
    except ValueError:
        return {"models": {}}  # a broken registry is rewritten rather than blocking a launch
    if not isinstance(registry, dict) or not isinstance(registry.get("models", {}), dict):
        return {"models": {}}
    registry.setdefault("models", {})
    return registry


def _register(name: str, model: str, endpoints: list[str]) -> None:
    registry = _read_registry()
    registry["models"][name] = {"model": model, "endpoints": endpoints}
    write_json_atomic(registry_path(), registry, indent=2)


def _unregister(name: str, endpoints: list[str]) -> None:
    """Remove these endpoints from NAME's entry; the entry goes when none is left."""
    path = registry_path()
    if not path.is_file():
        return
    registry = _read_registry()
    entry = registry["models"].get(name)
    if not entry:
        return
    left = [u for u in entry.get("endpoints", []) if u not in endpoints]
    if left:
        entry["endpoints"] = left
    else:
        del registry["models"][name]
    write_json_atomic(path, registry, indent=2)


# ---------------------------------------------------------------------------------------------
# Launch, health wait, stop, status


@dataclass
class ServePlan:
    model: str
    name: str
    host: str
    ports: list[int]
    groups: list[list[str]]
    tp: int
    commands: list[list[str]] = field(default_factory=list)


def plan(
    model: str,
    gpus: str = "0",
    port_base: int = DEFAULT_PORT_BASE,
    tp: int = 1,
    host: str = "127.0.0.1",
    name: str | None = None,
    extra: str = "",
) -> ServePlan:
    """What `serve` would start: the served name, ports, GPU groups and one command per group."""
    if not model.strip():
        raise ConfigError("MODEL is empty: give an HF id or a model folder, e.g. MODEL=Qwen/Qwen2.5-7B-Instruct")
    groups = gpu_groups(gpus, tp)
    name = served_name(model, name)
    ports = [port_base + i for i in range(len(groups))]
    if port_base < 1 or ports[-1] > 65535:
        raise ConfigError(f"PORT_BASE={port_base}: ports {ports[0]}-{ports[-1]} are outside 1-65535")
    commands = [server_command(model, host, port, group, tp, name, extra) for port, group in zip(ports, groups, strict=True)]
    return ServePlan(model, name, host, ports, groups, tp, commands)


def _log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_bytes()[-64_000:].decode(errors="replace")
    except OSError:
        return "(no log)"
    # Progress bars redraw with \r: keep what the line finally showed.
    shown = [line.rsplit("\r", 1)[-1].rstrip() for line in text.splitlines()]
    shown = [line for line in shown if line.strip()]
    return redact(" | ".join(shown[-lines:])) or "(empty log)"


def _headers() -> dict[str, str]:
    key = lookup("VLLM_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _healthy(url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _listed_model(base: str, name: str, model: str) -> str:
    """The model name requests must carry: NAME if the server lists it, else its only model."""
    import httpx

    try:
        data = httpx.get(f"{base}/v1/models", headers=_headers(), timeout=10).json().get("data", [])
        ids = [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
    except (httpx.HTTPError, ValueError, AttributeError):
        return name
    if name in ids or not ids:
        return name
    if len(ids) == 1:
        return ids[0]
    return model if model in ids else name


def serve(
    model: str,
    gpus: str = "0",
    port_base: int = DEFAULT_PORT_BASE,
    tp: int = 1,
    host: str = "127.0.0.1",
    name: str | None = None,
    extra: str = "",
    timeout: float = DEFAULT_TIMEOUT_S,
    echo: Echo = print,
) -> dict[str, Any]:
    """Start the servers, wait until all are healthy, write the registry; returns the registry entry."""
    p = plan(model, gpus, port_base, tp, host, name, extra)
    if not Path("/proc/self/stat").is_file():
        raise ConfigError("the vLLM launcher needs Linux (/proc) to track the servers it starts")
    with _locked():
        current = read_state()
        same = [s for s in current if s["name"] == p.name and is_ours(s)]
        if same:
            ports = ", ".join(str(s["port"]) for s in same)
            raise ConfigError(
                f"{p.name!r} is already served on port(s) {ports}: `make stop-vllm NAME={p.name}` first, or pick another NAME="
            )
        busy = [port for port in p.ports if port_in_use(host, port)]
        if busy:
            raise ConfigError(
                f"port(s) {', '.join(map(str, busy))} on {host} are in use (ports {p.ports[0]}-{p.ports[-1]} are needed): "
                "stop what holds them or pick another PORT_BASE="
            )
        started, procs = _launch(p, model, host, tp)
        # Recorded before the wait, so `make stop-vllm` finds them even if this process dies. Entries of
        # this name or these ports are dead (checked above) and replaced.
        kept = [s for s in current if s["name"] != p.name and s["port"] not in p.ports]
        _write_state(kept + started)
    for s in started:
        echo(f"started {p.name} on {s['url']} (GPUs {s['gpus']}, pid {s['pid']}, log {s['log']})")
    try:
        problem = _wait_healthy(started, procs, timeout, echo)
    except BaseException:  # Ctrl-C included: never leave half a deployment running
        _abandon(started, procs, echo)
        raise
    if problem:
        _abandon(started, procs, echo)
        raise ModelError(problem)
    endpoints = [f"{s['url']}/v1" for s in started]
    listed = _listed_model(started[0]["url"], p.name, model)
    with _locked():
        _register(p.name, listed, endpoints)
    echo(f"{p.name}: {len(started)} server(s) healthy; registry {registry_path()}; model spec vllm:{p.name}")
    return {"name": p.name, "model": listed, "endpoints": endpoints}


def _launch(p: ServePlan, model: str, host: str, tp: int) -> tuple[list[dict[str, Any]], list[subprocess.Popen[bytes]]]:
    folder = serving_dir()
    started: list[dict[str, Any]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port, group, argv in zip(p.ports, p.groups, p.commands, strict=True):
            log = folder / f"{p.name}-{port}.log"
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(group)}
            with open(log, "wb") as out:
                try:
                    # Own session: the server outlives `make`, and its whole process group can be signalled.
                    proc = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
                    )
                except OSError as exc:
                    raise ConfigError(f"cannot start {masked(argv[:1])}: {exc.strerror or exc}") from None
            procs.append(proc)
            started.append(
                {
                    "name": p.name,
                    "model": model,
                    "host": host,
                    "port": port,
                    "url": f"http://{_connect_host(host)}:{port}",
                    "gpus": ",".join(group),
                    "tp": tp,
                    "pid": proc.pid,
                    "proc_start": _proc_start(proc.pid),
                    "program": argv[0],
                    "argc": len(argv),
                    "args_sha256": _args_digest(argv[1:]),
                    "command": masked(argv),
                    "log": str(log),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
    except BaseException:
        # Not recorded yet (and the state lock is held): just stop what did start.
        for s in started:
            _stop_one(s, DEFAULT_GRACE_S)
        raise
    return started, procs


def _abandon(started: list[dict[str, Any]], procs: list[subprocess.Popen[bytes]], echo: Echo) -> None:
    stop_entries(started, grace=DEFAULT_GRACE_S, echo=echo)
    for proc in procs:
        proc.poll()  # reap our own children


def _wait_healthy(started: list[dict[str, Any]], procs: list[subprocess.Popen[bytes]], timeout: float, echo: Echo) -> str | None:
    """None once every server answers /health; else what went wrong, with the log tail."""
    t0 = last_note = time.monotonic()
    waiting = list(zip(started, procs, strict=True))
    while waiting:
        for s, proc in list(waiting):
            code = proc.poll()
            if code is not None:
                return (
                    f"the server for {s['name']} on port {s['port']} (GPUs {s['gpus']}) exited with code {code} before it was "
                    f"healthy; log {s['log']} ends: {_log_tail(Path(s['log']))}"
                )
            if _healthy(s["url"]):
                waiting.remove((s, proc))
                echo(f"  {s['url']} healthy after {time.monotonic() - t0:.0f} s")
        if not waiting:
            return None
        elapsed = time.monotonic() - t0
        if elapsed > timeout:
            s = waiting[0][0]
            return (
                f"the server for {s['name']} on port {s['port']} (GPUs {s['gpus']}) was not healthy after {timeout:.0f} s "
                f"(raise TIMEOUT=); log {s['log']} ends: {_log_tail(Path(s['log']))}"
            )
        if time.monotonic() - last_note >= 10:
            last_note = time.monotonic()
            ports = ", ".join(str(s["port"]) for s, _ in waiting)
            echo(f"  waiting for {len(waiting)} of {len(started)} server(s), {elapsed:.0f} s of {timeout:.0f} s: port(s) {ports}")
        time.sleep(0.5)
    return None


def stop_entries(entries: list[dict[str, Any]], grace: float = DEFAULT_GRACE_S, echo: Echo = print) -> list[tuple[dict[str, Any], str]]:
    """Stop these recorded servers and forget them (servers.json and registry)."""
    outcomes = [(s, _stop_one(s, grace)) for s in entries]
    with _locked():
        keys = {(s["pid"], s["port"]) for s in entries}
        _write_state([s for s in read_state() if (s["pid"], s["port"]) not in keys])
        for name in sorted({s["name"] for s in entries}):
            _unregister(name, [f"{s['url']}/v1" for s in entries if s["name"] == name])
    for s, what in outcomes:
        echo(f"{s['name']} port {s['port']} pid {s['pid']}: {what}")
    return outcomes


def stop_servers(name: str | None = None, grace: float = DEFAULT_GRACE_S, echo: Echo = print) -> int:
    """`make stop-vllm [NAME=]`: stop the servers servers.json lists (all, or NAME's). Returns how many."""
    entries = [s for s in read_state() if name is None or s["name"] == name]
    if not entries:
        known = ", ".join(sorted({s["name"] for s in read_state()})) or "none"
        echo(f"no servers to stop{f' for {name!r}' if name else ''} (recorded: {known})")
        return 0
    stop_entries(entries, grace, echo)
    return len(entries)


def status_rows() -> list[dict[str, Any]]:
    rows = []
    for s in read_state():
        alive = is_ours(s)
        rows.append(
            {
                "name": s["name"],
                "port": s["port"],
                "gpus": s["gpus"],
                "pid": s["pid"],
                "alive": alive,
                "healthy": alive and _healthy(s["url"]),
                "log": s["log"],
            }
        )
    return rows


def status_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"no vLLM servers recorded in {state_path()}"
    header = ["name", "port", "gpus", "pid", "alive", "healthy", "log"]
    cells = [[str(r[h]).lower() if isinstance(r[h], bool) else str(r[h]) for h in header] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)
