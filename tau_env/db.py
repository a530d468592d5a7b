"""The v1 database: a fresh copy per episode and the reward's hash of it.

The hash is sha256 of `str(to_hashable(data))`: dicts become tuples of (key, value) pairs sorted
by key, lists become tuples, sets sorted tuples; Python's repr of the resulting tuples is hashed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tau_env.resources import fresh_tables


def load_db(domain: str) -> dict[str, Any]:
    """The pristine v1 DB of `airline` or `retail` (a fresh copy each call)."""
    return fresh_tables(domain)


def to_hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((key, to_hashable(item)) for key, item in sorted(value.items()))
    if isinstance(value, list):
        return tuple(to_hashable(item) for item in value)
    if isinstance(value, set):
        return tuple(sorted(to_hashable(item) for item in value))
    return value


def data_hash(db: dict[str, Any]) -> str:
    return hashlib.sha256(str(to_hashable(db)).encode("utf-8")).hexdigest()
