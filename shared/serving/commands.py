"""Planning a deployment, pure: GPU groups, served names, the server command line (the vLLM
command or VLLM_SERVER_CMD's template), masking secrets in it, ports in use."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from shared.errors import ConfigError
from shared.llm.keys import redact
from shared.paths import results_dir

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
