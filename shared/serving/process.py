"""Process identity: a recorded server is signalled only while /proc still shows the same
command line and start time (a recycled pid is never touched); stopping a server's session."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from pathlib import Path
from typing import Any

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
