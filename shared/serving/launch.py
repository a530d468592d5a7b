"""Starting, health-checking, stopping and listing servers: `serve`, `stop_servers`, `status_rows`."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.errors import ConfigError, ModelError
from shared.llm.endpoints import registry_path
from shared.llm.keys import lookup, redact
from shared.serving.commands import (
    DEFAULT_GRACE_S,
    DEFAULT_PORT_BASE,
    DEFAULT_TIMEOUT_S,
    TAIL_LINES,
    Echo,
    _connect_host,
    gpu_groups,
    masked,
    port_in_use,
    served_name,
    server_command,
    serving_dir,
    state_path,
)
from shared.serving.process import _args_digest, _proc_start, _stop_one, is_ours
from shared.serving.registry import _locked, _register, _unregister, _write_state, read_state

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
