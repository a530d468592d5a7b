"""The apology words of the paper's appendix metric and of the impatience behaviour (one list for both)."""

from __future__ import annotations

APOLOGY_WORDS = ("apologize", "apologise", "apology", "sorry", "i'm sorry", "i am sorry", "we're sorry", "we are sorry")


def is_apology(text: str) -> bool:
    """True when any apology word occurs in the text (case-insensitive substring, as the original)."""
    lowered = text.lower()
    return any(word in lowered for word in APOLOGY_WORDS)
