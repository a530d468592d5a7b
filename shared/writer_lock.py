"""One writer per results folder: an advisory lock (`fcntl.flock`) held while a command writes.

Two `simulate` runs on one results folder would both simulate everything (twice the paid calls)
and interleave their score_list blocks; a re-grade during a run would grade half-written folders.
The lock file `.ncusim.lock` holds the writer's pid and command, so the second writer's one line
can name it. The kernel releases the lock when the holder dies (a SIGKILL leaves no stale lock).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from shared.errors import ConfigError

LOCK_NAME = ".ncusim.lock"


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def _busy(folder: Path) -> str | None:
    """The holder of `folder`'s lock when another process holds it, else None."""
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(path)
    finally:
        os.close(fd)
    return None


def ensure_no_writer(folder: Path) -> None:
    """One line when a process holds the lock of `folder` or of a folder above it (re-grading a
    tree while a run writes into it would grade half-written dialogues). Nothing is written."""
    for above in (Path(folder).resolve(), *Path(folder).resolve().parents):
        holder = _busy(above)
        if holder is not None:
            raise ConfigError(f"another ncusim is writing to {above} (pid {holder}): wait for it to finish, or use another folder")


class WriterLock:
    """Held by the one process that writes under `folder` (and checked against every folder above)."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = Path(folder)
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        ensure_no_writer(self.folder.parent)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"another ncusim is writing to {self.folder} (pid {_holder(path)}): wait for it to finish, or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.command}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
