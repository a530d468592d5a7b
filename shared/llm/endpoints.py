"""Where `vllm:<name>` models are served: VLLM_ENDPOINTS, else the serving registry file.

VLLM_ENDPOINTS is a comma-separated list of base URLs (`http://127.0.0.1:8000/v1,...`), all
serving `<name>`. The registry, written by the kit's vLLM launcher, is JSON:
`{"models": {"<name>": {"model": "<served model name>", "endpoints": ["http://127.0.0.1:8000/v1", ...]}}}`
at NCUSIM_VLLM_REGISTRY or `<results>/serving/endpoints.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shared.errors import ConfigError
from shared.paths import results_dir


def registry_path() -> Path:
    return Path(os.environ.get("NCUSIM_VLLM_REGISTRY") or results_dir() / "serving" / "endpoints.json")


def vllm_endpoints(name: str) -> tuple[str, list[str]]:
    """(served model name, base URLs) for `vllm:<name>`."""
    listed = os.environ.get("VLLM_ENDPOINTS", "").strip()
    if listed:
        urls = [u.strip() for u in listed.split(",") if u.strip()]
        return name, urls
    path = registry_path()
    try:
        registry = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no vLLM endpoints for {name!r}: start servers with `make serve-vllm MODEL={name}` or set VLLM_ENDPOINTS=<url>,<url>"
        ) from None
    except ValueError:
        raise ConfigError(f"the vLLM registry {path} is not valid JSON: restart the servers or delete it") from None
    entry = registry.get("models", {}).get(name)
    if not entry or not entry.get("endpoints"):
        known = ", ".join(sorted(registry.get("models", {}))) or "none"
        raise ConfigError(f"{name!r} is not served (registry {path} lists: {known}): start it with `make serve-vllm MODEL={name}`")
    return str(entry.get("model") or name), [str(u) for u in entry["endpoints"]]
