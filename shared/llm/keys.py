"""API keys: from the environment or a `.env` file only, and never echoed back.

`redact()` is applied to every message the model layer builds from a server's answer, so a key
that a server reflects in an error body cannot reach logs, results or exception text; it also
removes credentials written into URLs. `scrub()` takes the keys actually sent to a server (and
URL passwords) out of model text before anything writes it. A key in use must be at least
`MIN_KEY` characters long (shorter ones would turn ordinary words into `***`); one shorter than
`SHORT_KEY` is used and redacted, with a warning.
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

from shared.errors import ConfigError
from shared.paths import kit_home

_SECRET_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN", "_SECRET")
MIN_KEY = 4  # below this a key cannot be redacted without mangling ordinary text: refused
SHORT_KEY = 8  # below this a key is redacted wherever its characters appear, with a warning
# `scheme://user:password@` or `scheme://token@` in any text: the userinfo goes.
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_IN_USE: set[str] = set()  # keys sent to a server and passwords from URLs: scrubbed from model text
_WARNED: set[str] = set()
_CREDENTIALS: dict[str, str] = {}  # a spec without its URL credentials -> the spec as given


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
    return key_in_use(var, value)


def optional_key(var: str, default: str) -> str:
    """The key in `var` when set (checked like any key in use), else `default` (not a secret)."""
    value = lookup(var)
    return key_in_use(var, value) if value else default


def key_in_use(var: str, value: str) -> str:
    """A key about to be sent to a server: long enough to redact, and remembered for `scrub`."""
    if len(value) < MIN_KEY:
        too_short = f"keys under {MIN_KEY} characters cannot be kept out of written files"
        raise ConfigError(f"{var} is {len(value)} characters long; {too_short}: use a longer key")
    if len(value) < SHORT_KEY and var not in _WARNED:
        _WARNED.add(var)
        print(
            f"ncusim: warning: {var} is only {len(value)} characters long; it is replaced by *** wherever those characters "
            "appear in messages, logs and written dialogues",
            file=sys.stderr,
        )
    _IN_USE.add(value)
    return value


def secret_values() -> list[str]:
    """Every value that looks like a secret, longest first (so overlapping values redact fully):
    secret-named variables of 8 characters or more, and every key in use whatever its length."""
    names = {**dotenv_values(), **os.environ}
    found = {v for k, v in names.items() if k.upper().endswith(_SECRET_SUFFIXES) and v and len(v) >= SHORT_KEY}
    found |= {v for k, v in dotenv_values().items() if v and len(v) >= SHORT_KEY}
    found |= _IN_USE
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """A message, log line or record without any secret value or URL credentials."""
    text = strip_url_credentials(text)
    for value in secret_values():
        text = text.replace(value, "***")
    return text


def scrub(text: str) -> str:
    """Model text without the keys in use (a server may echo what it was sent), before it is written."""
    for value in sorted(_IN_USE, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


def strip_url_credentials(text: str) -> str:
    """`http://user:pw@host/...` -> `http://***@host/...` wherever a URL appears in `text`."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}***@", text) if "@" in text else text


def public_spec(spec: str) -> str:
    """A model spec as it may be written anywhere: URL credentials removed (`http://host/v1#m`).
    The spec as given is remembered, so `full_spec` gives the resolver what to connect with, and
    the password is scrubbed from model text like a key."""
    match = _URL_USERINFO.match(spec.strip())
    if not match:
        return spec
    public = spec.strip()[: match.start("userinfo")] + spec.strip()[match.end() :]
    _CREDENTIALS[public] = spec.strip()
    _, _, password = match["userinfo"].partition(":")
    for part in (match["userinfo"], password):
        if len(part) >= MIN_KEY:
            _IN_USE.add(part)
    return public


def full_spec(spec: str) -> str:
    """The spec with the URL credentials it was given with (itself when it had none)."""
    return _CREDENTIALS.get(spec.strip(), spec)
