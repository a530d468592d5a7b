"""The goal's "dialogue-state items": what the simulated user must convey, one string per slot.

Derived as the original MultiwozUser does (multiwoz_user.py, its __init__): `<domain>-<slot>-<value>` for
every info/book/fail_info/fail_book slot, ` day`/` people` appended to stay/people items, an
original value and its fallback merged into one "(original slot) | ... (alternative condition ...)"
item, and train times renamed leaveAfter/arriveBefore. One difference (FIDELITY.md): duplicates
are removed keeping first-seen order, where the original used a set (order varied between runs).
"""

from __future__ import annotations

from typing import Any

ALTERNATIVE = " (alternative condition when previous condition is not available)"
INTENTS_SKIPPED = ("reqt",)


def raw_items(goal_dict: dict[str, Any], domains: list[str]) -> list[str]:
    items: list[str] = []
    for domain, intents in goal_dict.items():
        if domain not in domains or not isinstance(intents, dict):
            continue
        kept = {name: dict(value) for name, value in intents.items() if value and name not in INTENTS_SKIPPED}
        for value in kept.values():
            if isinstance(value, dict):
                value.pop("pre_invalid", None)
                value.pop("invalid", None)
        per_domain: list[str] = []
        for intent, slots in kept.items():
            if not isinstance(slots, dict):
                continue
            for slot, value in slots.items():
                item = f"{domain}-{slot}-{value}"
                if intent == "info" and slot in kept.get("fail_info", {}):
                    item += ALTERNATIVE
                if intent == "book" and slot in kept.get("fail_book", {}):
                    item += ALTERNATIVE
                per_domain.append(item)
        items += list(dict.fromkeys(per_domain))
    out = []
    for item in items:
        if "stay" in item:
            item += " day"
        if "people" in item:
            item += " people"
        out.append(item)
    return out


def merge_fallbacks(items: list[str]) -> list[str]:
    original: dict[str, str] = {}
    alternative: dict[str, str] = {}
    for item in items:
        key = "-".join(item.split("-")[:2])
        if ALTERNATIVE in item:
            alternative[key] = item.replace(ALTERNATIVE, "")
        else:
            original[key] = item
    merged = []
    for key, item in original.items():
        other = alternative.get(key)
        if other is not None and other.strip() != item.strip():
            merged.append(f"{item} (original slot) | {other}{ALTERNATIVE}")
        else:
            merged.append(item)
    return merged


def goal_items(goal_dict: dict[str, Any], domains: list[str]) -> list[str]:
    items = merge_fallbacks(raw_items(goal_dict, domains))
    return [i.replace("leaveAt", "leaveAfter").replace("arriveBy", "arriveBefore") if "train" in i else i for i in items]
