"""User-side data shared by both environments: personas and the fragment-style pool.

Upstream keeps byte-identical copies for Tau; the manifests name the MultiWOZ paths for both,
so one copy on disk serves every environment.
"""

from __future__ import annotations

import json
import random
from functools import cache, lru_cache

from shared.data import require
from shared.paths import data_path

PERSONA_FILES = 1000
FRAGMENT_FILE = "multiwoz_env/short_fragment_dumping.json"


def _load(repo_path: str) -> object:
    path = data_path(repo_path)
    if not path.is_file():
        require("multiwoz")
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=PERSONA_FILES)
def persona_file(index: int) -> tuple[str, ...]:
    """The `input persona` strings of one file (the only field used; ~16 KB instead of ~120 KB)."""
    records = _load(f"multiwoz_env/persona/persona_list_{index}.json")
    assert isinstance(records, list)
    return tuple(str(r["input persona"]) for r in records)


def sample_persona(rng: random.Random) -> str:
    """A file uniformly, then a record uniformly: uniform over the 110,000 personas."""
    return rng.choice(persona_file(rng.randrange(PERSONA_FILES)))


@cache
def fragment_pool() -> tuple[str, ...]:
    """Short user prompts with more than 5 space-separated tokens (5,582 of 9,249)."""
    pool = _load(FRAGMENT_FILE)
    assert isinstance(pool, list)
    return tuple(u for u in pool if len(u.split(" ")) > 5)
