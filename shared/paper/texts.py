"""The original's prompt texts for one environment, read from the verified upstream files.

Every text is extracted with `ast` (shared/paper/extract.py) from the file the data step fetched
at the pinned commit, and checked against the SHA-256 that shared/paper/locations.json records
for it; a changed or missing file stops the run with one line that says what to do.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from shared.errors import DataError
from shared.paper.extract import Extracted, FStringParts, Location, LocationError, digest, extract
from shared.paths import data_path

FIX = "run `ncusim data` to restore the pinned upstream files, or choose --prompts ncusim"


@cache
def locations() -> tuple[Location, ...]:
    raw = json.loads(resources.files("shared.paper").joinpath("locations.json").read_text(encoding="utf-8"))
    return tuple(Location.from_json(entry) for entry in raw["locations"])


def source_files(env: str) -> list[str]:
    """The upstream files paper mode reads for `env` (all are in the env's data manifest)."""
    return sorted({loc.file for loc in locations() if loc.id.startswith(env + ".")})


def load_location(location: Location) -> Extracted:
    path = data_path(location.file)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        raise DataError(f"paper prompt {location.id}: {location.file} is missing at {path}: {FIX}") from None
    try:
        value = extract(source, location)
    except (LocationError, SyntaxError) as exc:
        raise DataError(f"paper prompt {location.id}: {location.file} no longer holds it ({exc}): {FIX}") from None
    found = digest(value)
    if found != location.sha256:
        raise DataError(
            f"paper prompt {location.id}: {location.file} changed at `{location.name}` "
            f"(sha256 {found[:12]}..., pinned {location.sha256[:12]}...): {FIX}"
        )
    return value


@dataclass(frozen=True)
class PaperTexts:
    """The verified texts of one environment, by id without the environment prefix."""

    env: str
    values: dict[str, Extracted]

    def text(self, key: str) -> str:
        value = self.values[key]
        assert isinstance(value, str), key
        return value

    def spec(self, key: str) -> dict[str, Any]:
        value = self.values[key]
        assert isinstance(value, dict), key
        return value

    def data(self, key: str) -> Any:
        return self.values[key]

    def fstring(self, key: str, **fields: object) -> str:
        """An f-string of the original, rebuilt from its parts with the given field values."""
        value = self.values[key]
        assert isinstance(value, tuple), key
        parts: FStringParts = value
        return "".join(text if kind == "text" else str(fields[text]) for kind, text in parts)


_LOCK = threading.Lock()
_LOADED: dict[str, PaperTexts] = {}


def paper_texts(env: str) -> PaperTexts:
    """Load and verify once per process (the files do not change during a run)."""
    with _LOCK:
        if env not in _LOADED:
            prefix = env + "."
            chosen = [loc for loc in locations() if loc.id.startswith(prefix)]
            if not chosen:
                raise DataError(f"no paper prompts are known for environment {env!r}")
            _LOADED[env] = PaperTexts(env, {loc.id.removeprefix(prefix): load_location(loc) for loc in chosen})
        return _LOADED[env]


def forget_loaded() -> None:
    """Drop the per-process cache (tests that swap the data folder)."""
    with _LOCK:
        _LOADED.clear()
