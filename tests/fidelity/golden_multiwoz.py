"""Helpers to compare our MultiWOZ sandbox with the oracle recordings (golden/multiwoz_apis.json)."""

from __future__ import annotations

import json
import random
import re
from functools import cache
from pathlib import Path
from typing import Any

from multiwoz_env import resources
from multiwoz_env.sandbox import Sandbox
from shared.paths import data_path

# Inside a repr the quotes may be escaped (a message holding both quote kinds), which the
# recordings' own masking missed: mask the value after an optionally escaped quote, both sides.
_EMBEDDED = [
    (re.compile(r"(reference_number\\?': \\?')[A-Za-z0-9]{8}"), r"\1<RANDOM>"),
    (re.compile(r"(car_type\\?': \\?')[a-z]+"), r"\1<RANDOM>"),
    (re.compile(r"(phone\\?': \\?')010\d{8}"), r"\1<RANDOM>"),
]


@cache
def load(golden_dir: Path) -> dict[str, Any]:
    return json.loads((golden_dir / "multiwoz_apis.json").read_text())


def mask_text(text: str) -> str:
    for pattern, replacement in _EMBEDDED:
        text = pattern.sub(replacement, text)
    return text


def mask(value: Any) -> Any:
    """Mask random booking fields the way the recordings did (fields and text inside strings)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference_number" and isinstance(item, str):
                out[key] = "<RANDOM>"
            elif key in ("car_type", "phone") and "reservation_id" in value:
                out[key] = "<RANDOM>"
            else:
                out[key] = mask(item)
        return out
    return value


def sandbox_for(spec: dict[str, Any], folders: Path, work: Path, seed: int = 0) -> Sandbox:
    """The probe's sandbox, built the way the recording describes it."""
    rng = random.Random(seed)
    source = spec["source"]
    if source == "global":
        domains = ["accommodation", "restaurant", "train", "attraction", "taxi"]
        db = {d: list(resources.db(d)) for d in domains}
        tables: dict[str, list[dict[str, Any]]] = {d: [] for d in domains if d != "attraction"}
        work.mkdir(parents=True, exist_ok=True)
        return Sandbox(db, {}, tables, domains, rng=rng, folder=work)
    if source == "folder":
        sandbox = Sandbox.from_folder(folders / spec["folder"], rng=rng)
        sandbox.folder = work
        work.mkdir(parents=True, exist_ok=True)
        return sandbox
    if source == "goal":
        goal = json.loads(data_path(spec["goal_file"]).read_text())
        return Sandbox.build(work, goal["goal_dict"], goal["domains"], rng=rng)
    if source == "synthetic_goal":
        return Sandbox.build(work, spec["goal_dict"], spec["domains"], rng=rng)
    raise ValueError(source)


def reservations_by_file(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    return {f"{d}_book_db.json": records for d, records in sandbox.reservations().items()}
