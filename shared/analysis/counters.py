"""Small readers both environments' analyses share (one rule each, so the two cannot drift apart)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import mean

from shared.files import read_json


def mean_or_none(values: Sequence[float]) -> float | None:
    """The mean, or None for no values (written as null, where the original printed nothing).
    `statistics.mean`, as the original's scripts: exact, so the last digit does not depend on the
    order the folders are read in."""
    return mean(values) if values else None


def tangential_counts(folder: Path) -> tuple[int | None, int | None]:
    """(n_complain, n_tangential) from tangential_config.json; (None, None) when absent or unreadable."""
    try:
        config = read_json(folder / "tangential_config.json")
        return int(config["n_complain"]), int(config["n_tangential"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
