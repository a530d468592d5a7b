"""The simulator's own data: personas and the fragment-style pool, where an environment's
`UserData` says they are (upstream paths its data manifest lists; fetched on first use)."""

from __future__ import annotations

import json
import random
from functools import cache, lru_cache

from shared.data import require
from shared.environment import UserData
from shared.paths import data_path


def _load(repo_path: str, environment: str | None) -> object:
    path = data_path(repo_path)
    if not path.is_file() and environment:
        require(environment)
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1024)
def persona_file(data: UserData, index: int) -> tuple[str, ...]:
    """The `input persona` strings of one file (the only field used; ~16 KB instead of ~120 KB)."""
    records = _load(data.persona_pattern.format(index=index), data.environment)
    assert isinstance(records, list)
    return tuple(str(r["input persona"]) for r in records)


def sample_persona(rng: random.Random, data: UserData) -> str:
    """A file uniformly, then a record uniformly (uniform over all personas when the files are the
    same size, as upstream's 1,000 files of 110 are); "" when the environment has no personas."""
    if not data.persona_pattern or data.persona_count <= 0:
        return ""
    return rng.choice(persona_file(data, rng.randrange(data.persona_count)))


@cache
def fragment_pool(data: UserData) -> tuple[str, ...]:
    """Short user prompts with more than 5 space-separated tokens (5,582 of upstream's 9,249)."""
    if not data.fragment_file:
        return ()
    pool = _load(data.fragment_file, data.environment)
    assert isinstance(pool, list)
    return tuple(u for u in pool if len(u.split(" ")) > 5)
