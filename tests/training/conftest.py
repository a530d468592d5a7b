"""Fixtures for the training tests: the embedded model's tokenizer and a crafted tree of dialogue folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from shared.training.dataset import NEEDED_FILES

BASE = "multiwoz_train_dataset"
MIXED = "multiwoz_train_dataset_528_195"


@pytest.fixture(scope="session")
def embedded_base() -> Path:
    from shared.llm.embedded import ensure_embedded_model

    return ensure_embedded_model()


@pytest.fixture(scope="session")
def tokenizer(embedded_base: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_base))


def copy_needed(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in NEEDED_FILES:
        shutil.copy(source / name, target / name)
    return target


@pytest.fixture
def crafted_tree(reference_folders: Path, tmp_path: Path) -> Path:
    """Five folders: two good ones (one nested, one tangential), one FAIL, one unaligned, one unreadable."""
    root = tmp_path / "dialogues"
    copy_needed(reference_folders / BASE / "MUL0001.json_0", root / "good" / "MUL0001.json_0")
    tangential = next(p for p in sorted((reference_folders / MIXED).iterdir()) if "_tangential" in p.name)
    copy_needed(tangential, root / "good" / "deeper" / tangential.name)
    failed = copy_needed(reference_folders / BASE / "MUL0008.json_0", root / "bad" / "MUL0008.json_0")
    (failed / "pass_or_fail.txt").write_text("FAIL")
    unaligned = copy_needed(reference_folders / BASE / "MUL0022.json_0", root / "bad" / "MUL0022.json_0")
    verdict = json.loads((unaligned / "goal_align_result.json").read_text())
    (unaligned / "goal_align_result.json").write_text(json.dumps({**verdict, "result": False}))
    broken = copy_needed(reference_folders / BASE / "MUL0601.json_0", root / "bad" / "MUL0601.json_0")
    (broken / "dial_hist_system_list.json").write_text(json.dumps({"not": "a message list"}))
    return root
