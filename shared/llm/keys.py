"""API keys: from the environment or a `.env` file only, and never echoed back.

`redact()` is applied to every message the model layer builds from a server's answer, so a key
that a server reflects in an error body cannot reach logs, results or exception text.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from shared.errors import ConfigError
from shared.paths import kit_home

_SECRET_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN", "_SECRET")


def _parse_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return values
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


@cache
def _dotenv_values(cwd: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for folder in (kit_home(), Path(cwd)):
        merged.update(_parse_dotenv(folder / ".env"))
    return merged


def dotenv_values() -> dict[str, str]:
    return _dotenv_values(os.getcwd())


def lookup(var: str) -> str | None:
    """The value of `var` from the environment, else from `.env` (current folder, then kit root)."""
    return os.environ.get(var) or dotenv_values().get(var) or None


def require_key(var: str, purpose: str) -> str:
    value = lookup(var)
    if not value:
        raise ConfigError(f"{var} is not set ({purpose}): export {var}=... or add it to a .env file")
    return value


def secret_values() -> list[str]:
    """Every value that looks like a secret, longest first (so overlapping values redact fully)."""
    names = {**dotenv_values(), **os.environ}
    found = {v for k, v in names.items() if k.upper().endswith(_SECRET_SUFFIXES) and v and len(v) >= 8}
    found |= {v for k, v in dotenv_values().items() if v and len(v) >= 8}
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, "***")
    return text
