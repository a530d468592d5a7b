"""Reading dialogue folders and rejection sampling: which dialogues become training data, and why
the others do not."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.scoring import read_aligned
from shared.usersim.config import FLAGS

BEHAVIOR_FLAGS = FLAGS  # the simulator's flags, in its YAML order (result folders are named the same way)


# --- reading and rejection sampling ----------------------------------------------------------


@dataclass(frozen=True)
class Dialogue:
    folder: Path
    messages: tuple[dict[str, str], ...]
    passed: bool
    aligned: bool
    behavior: str

    @property
    def n_examples(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)


def read_messages(folder: Path) -> list[dict[str, str]] | None:
    """The agent's message list, or None when it is not a list of {role, content} dicts (the original skipped those too)."""
    try:
        raw = json.loads((folder / "dial_hist_system_list.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, list) or not raw:
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in raw):
        return None
    # Only role and content reach the template (Tau trajectories carry extra keys such as n_reasoning).
    return [{"role": m["role"], "content": m["content"]} for m in raw]


def read_passed(folder: Path) -> bool:
    try:
        return (folder / "pass_or_fail.txt").read_text(encoding="utf-8").strip() == "PASS"
    except OSError:
        return False


def read_behavior(folder: Path) -> str:
    """`normal`, a flag name, or flags joined by `+` (as result folders are named); `pbus:` for the baseline."""
    try:
        config = json.loads((folder / "non_coll_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    if not isinstance(config, dict):
        return "unknown"
    name = "+".join(f for f in BEHAVIOR_FLAGS if config.get(f)) or "normal"
    return f"pbus:{name}" if config.get("is_pbus") else name


@dataclass
class Selection:
    """What rejection sampling kept, with the counts it reports."""

    dialogues: list[Dialogue]
    total: int
    passed: int
    aligned: int
    both: int
    malformed: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    filtered: bool = True

    @property
    def kept(self) -> int:
        return len(self.dialogues)

    @property
    def behaviors(self) -> Counter[str]:
        return Counter(d.behavior for d in self.dialogues)

    @property
    def n_examples(self) -> int:
        return sum(d.n_examples for d in self.dialogues)

    def summary(self) -> str:
        rule = "PASS and goal-aligned" if self.filtered else "no rejection filter"
        mix = ", ".join(f"{name} {count}" for name, count in sorted(self.behaviors.items()))
        bad = f", {len(self.malformed)} unreadable" if self.malformed else ""
        return (
            f"kept {self.kept}/{self.total} dialogues ({rule}; PASS {self.passed}, aligned {self.aligned}, "
            f"both {self.both}{bad}); behaviours: {mix or 'none'}; {self.n_examples} assistant messages"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "aligned": self.aligned,
            "passed_and_aligned": self.both,
            "kept": self.kept,
            "filtered": self.filtered,
            "behaviors": dict(sorted(self.behaviors.items())),
            "examples": self.n_examples,
            "unreadable": [str(p) for p in self.malformed],
            "rejected": [{"folder": str(p), "reason": reason} for p, reason in self.rejected],
        }


def select(folders: Sequence[Path], rejection: bool = True) -> Selection:
    """Read every folder; with `rejection`, keep those that PASS and are goal-aligned."""
    kept: list[Dialogue] = []
    malformed: list[Path] = []
    rejected: list[tuple[Path, str]] = []
    passed = aligned = both = 0
    for folder in folders:
        messages = read_messages(folder)
        if messages is None:
            malformed.append(folder)
            continue
        dialogue = Dialogue(folder, tuple(messages), read_passed(folder), read_aligned(folder) is True, read_behavior(folder))
        passed += dialogue.passed
        aligned += dialogue.aligned
        both += dialogue.passed and dialogue.aligned
        if rejection and not (dialogue.passed and dialogue.aligned):
            reasons = [r for r, bad in (("not PASS", not dialogue.passed), ("not goal-aligned", not dialogue.aligned)) if bad]
            rejected.append((folder, ", ".join(reasons)))
            continue
        kept.append(dialogue)
    return Selection(kept, len(folders), passed, aligned, both, malformed, rejected, rejection)
