"""The one way the kit writes files: atomically (temp file in the same folder, then rename).

A reader, a killed process or a Ctrl-C never sees a half-written file: it sees the old one or the
new one. There is no fsync: rename is atomic against process crashes, which is what resuming a
run needs; after a power loss a file may be missing or stale and is then redone or re-verified
(dialogues are rerun when incomplete, data files are checked by SHA-256). fsync per file cost
more than the rest of the runner's own work together (`make bench`).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    target = Path(path)
    # The temp name is unique per process and thread (one writer of a name at a time), which is
    # all atomicity needs; mkstemp's random names cost a third of the runner's own CPU (make bench).
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, _FLAGS, 0o644)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _FLAGS, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int | None = 4, ensure_ascii: bool = True) -> None:
    """JSON with indent 4 by default, as the original writes every dialogue-folder file."""
    write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii))


def read_json_or_none(path: str | os.PathLike[str]) -> Any:
    """The file's JSON, or None when it is missing or not JSON (readers of finished folders)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def read_json(path: str | os.PathLike[str]) -> Any:
    """The file's JSON; a file nested deeper than the decoder goes raises ValueError like any bad JSON."""
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except RecursionError:
            raise ValueError(f"{path}: JSON nested too deeply to read") from None
