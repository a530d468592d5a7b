"""Read-only upstream data of the Tau-Bench v1 environment (fetched and verified by `ncusim data`)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from shared.data import require
from shared.errors import DataError
from shared.paths import data_path

ROOT = "tau_env"
DOMAINS = ("airline", "retail")
TABLES = {"airline": ("flights", "reservations", "users"), "retail": ("orders", "products", "users")}


def read_bytes(repo_path: str) -> bytes:
    path = data_path(repo_path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        require("tau")
        raise DataError(f"{repo_path} is missing: run `make data`") from None


def check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"unknown Tau domain {domain!r}: airline or retail")


@cache
def table_bytes(domain: str, table: str) -> bytes:
    return read_bytes(f"{ROOT}/tau_bench/envs/{domain}/data/{table}.json")


def table_rows(domain: str, table: str) -> dict[str, Any]:
    """One table of the domain's pristine database, newly parsed (`tau_env.db` keeps one per process)."""
    check_domain(domain)
    rows: dict[str, Any] = json.loads(table_bytes(domain, table))
    return rows
