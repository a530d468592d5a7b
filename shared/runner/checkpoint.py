"""What survives a kill: which dialogue folders are complete (validated), the regeneration log
of every attempt, and the disk-full stop."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from shared.environment import Environment
from shared.errors import NcusimError
from shared.files import write_json_atomic
from shared.scoring import read_aligned
from shared.state_files import RegenerationLogFile, RunMeta, read_run_level, read_valid

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(NcusimError):
    """The results folder's file system is full: the run stops, what is complete stays."""


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def is_complete(folder: Path, grade_file: str = "grading_result.json") -> bool:
    """Graded and judged, by the markers alone: the original's rule (MultiWOZ grades to
    grading_result.json, Tau to eval_result.json). `completed` also checks what they hold."""
    return (folder / grade_file).is_file() and (folder / "goal_align_result.json").is_file()


def completed(env: Environment, folder: Path) -> bool:
    """Complete and believable: run_meta.json, the grade and the judge's verdict are all present and
    of the shape the kit writes. A folder that fails this is redone by the next run, so a grade cut
    short, a verdict of `"false"` or a directory in a marker's place never counts as a result."""
    if not is_complete(folder, env.grade_file) or read_valid(RunMeta, folder / "run_meta.json") is None:
        return False
    if read_aligned(folder) is None:
        return False
    try:
        env.outcome(env.read_grade(folder))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


class RegenerationLog:
    """Per experiment: every attempt of every dialogue (seed, alignment, pass, error)."""

    def __init__(self, experiment: Path) -> None:
        self.path = experiment / "regeneration_log.json"
        parsed = read_run_level(RegenerationLogFile, self.path, "a regeneration log")
        self.entries: dict[str, list[dict[str, Any]]] = (
            {name: [e.model_dump() for e in entries] for name, entries in parsed.root.items()} if parsed else {}
        )

    def completed_attempts(self, name: str) -> int:
        return sum(1 for e in self.entries.get(name, []) if e.get("aligned") is not None)

    def add(self, name: str, entry: dict[str, Any]) -> None:
        self.entries.setdefault(name, []).append(entry)

    def save(self) -> None:
        write_json_atomic(self.path, self.entries)

    def first_attempt_aligned(self) -> tuple[int, int]:
        """(aligned at their first attempt, dialogues with a first attempt): the IGA numerator and denominator."""
        firsts = [next((e for e in entries if e.get("aligned") is not None), None) for entries in self.entries.values()]
        done = [f for f in firsts if f is not None]
        return sum(1 for f in done if f["aligned"]), len(done)
