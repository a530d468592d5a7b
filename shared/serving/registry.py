"""servers.json (what the launcher started) and the endpoint registry `vllm:<name>` reads,
both under one file lock."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from typing import Any

from shared.errors import ConfigError
from shared.files import read_json, write_json_atomic
from shared.llm.endpoints import registry_path
from shared.serving.commands import serving_dir, state_path
from shared.state_files import ServingState, valid

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
