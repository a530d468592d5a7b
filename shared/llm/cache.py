"""On-disk cache of deterministic (temperature 0) model calls.

The key covers backend, endpoint, model, messages and every sampling parameter, so a cached
answer is only ever returned for the exact same request. Set NCUSIM_LLM_CACHE=0 to turn it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from shared.files import write_json_atomic
from shared.paths import cache_dir


def cache_enabled_by_default() -> bool:
    return os.environ.get("NCUSIM_LLM_CACHE", "1") not in ("0", "false", "no", "off")


class DiskCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_dir() / "llm"

    @staticmethod
    def key(material: dict[str, Any]) -> str:
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                value = json.load(handle)
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            write_json_atomic(self._path(key), value, indent=None)
        except OSError:
            pass  # a cache that cannot be written only costs speed
