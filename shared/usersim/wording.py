"""Text rules of the simulator's words that several modules share."""

from __future__ import annotations

import re

# The word with its trailing comma; `strip_please` adds the separator before it (a comma and
# whitespace, or whitespace), as `re.sub(r"(,\s*|\s+)?\bplease\b,?", "", text, flags=re.I)` would.
_PLEASE = re.compile(r"\bplease\b,?", re.IGNORECASE)


def strip_please(text: str) -> str:
    """Every "please" removed with the separator before it, in linear time: the regex with the
    separator in it backtracked quadratically over long whitespace (20,000 spaces took 19 s)."""
    kept: list[str] = []
    last = 0
    for match in _PLEASE.finditer(text):
        start = match.start()
        while start > last and text[start - 1].isspace():
            start -= 1
        if start > last and text[start - 1] == ",":
            start -= 1
        kept.append(text[last:start])
        last = match.end()
    kept.append(text[last:])
    return "".join(kept)


def remove_please(text: str) -> str:
    """Drop the word "please" (any case, whole word only; the original cut it out of "pleased")."""
    out = strip_please(text).strip()
    if text[:1].isupper() and out[:1].islower():
        out = out[0].upper() + out[1:]
    return out
