"""Read-only upstream data of the MultiWOZ environment, loaded once per process.

Everything comes from the verified data step (`ncusim data`) through repo paths, so the same
code reads a fresh download or a mirror copy.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from shared.data import require
from shared.errors import DataError
from shared.paths import data_path

ROOT = "multiwoz_env"
DOC_PATH = f"{ROOT}/api_documentations/multiwoz_api_documentation.json"
SPLITS = {"test": "multiwoz_test_goal_list", "train": "train_goal_list"}
N_SHARDS = 40


def _read(repo_path: str) -> bytes:
    path = data_path(repo_path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        require("multiwoz")  # names the fix when the data step has not run
        raise DataError(f"{repo_path} is missing: run `make data`") from None


@cache
def db_bytes(domain: str) -> bytes:
    """The pristine db file of a domain, byte for byte (sandboxes copy it unchanged)."""
    return _read(f"{ROOT}/db/{domain}_db.json")


@cache
def db(domain: str) -> tuple[dict[str, Any], ...]:
    """Pristine entities; shared and never mutated (APIs copy what they change)."""
    return tuple(json.loads(db_bytes(domain)))


@cache
def api_docs() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(_read(DOC_PATH)))


@cache
def shard(split: str, index: int) -> tuple[str, ...]:
    return tuple(json.loads(_read(f"{ROOT}/goal_list/split_idx_list_{split}/split_idx_{index}.json")))


@cache
def goal(split: str, goal_id: str) -> dict[str, Any]:
    return json.loads(_read(f"{ROOT}/goal_list/{SPLITS[split]}/{goal_id}"))
