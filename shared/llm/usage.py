"""Token and cost accounting per role (agent, user, helper, judge) and per model."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

import yaml

LOCAL_BACKENDS = frozenset({"hf", "local", "scripted", "vllm", "http"})


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0
    retries: int = 0  # requests sent again: transport faults, and re-asks after invalid structured replies
    unpriced_calls: int = 0
    invalid_replies: int = 0  # of the retries: re-asks after a structured reply that did not parse or validate

    def add(self, other: Usage) -> None:
        for name in USAGE_FIELDS:  # not asdict(): it deep-copies, and this runs for every dialogue and report
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def copy(self) -> Usage:
        twin = Usage()
        twin.add(self)
        return twin

    def as_dict(self) -> dict[str, int | float]:
        return {name: getattr(self, name) for name in USAGE_FIELDS}


USAGE_FIELDS = tuple(f.name for f in fields(Usage))


@cache
def price_table() -> dict[str, dict[str, float]]:
    text = resources.files("shared.llm").joinpath("prices.yaml").read_text()
    return {str(k): v for k, v in (yaml.safe_load(text) or {}).items()}


def price_of(backend: str, model: str) -> tuple[float, float] | None:
    """USD per 1M tokens (input, output); self-hosted backends cost nothing; None if unknown."""
    if backend in LOCAL_BACKENDS:
        return (0.0, 0.0)
    table = price_table()
    entry = table.get(model) or table.get(model.split("/", 1)[-1] if model.startswith("openai/") else "")
    if entry is None:
        return None
    return (float(entry["input"]), float(entry["output"]))


class UsageLedger:
    """Thread-safe totals keyed by (role, model spec)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], Usage] = {}

    def _row(self, role: str, model: str) -> Usage:
        return self._rows.setdefault((role, model), Usage())

    def record(self, role: str, model: str, backend: str, model_name: str, prompt: int, completion: int, cached: bool) -> float:
        price = price_of(backend, model_name)
        cost = 0.0 if cached or price is None else (prompt * price[0] + completion * price[1]) / 1e6
        with self._lock:
            row = self._row(role, model)
            row.calls += 1
            row.prompt_tokens += prompt
            row.completion_tokens += completion
            row.cost_usd += cost
            row.cached_calls += int(cached)
            row.unpriced_calls += int(price is None and not cached)
        return cost

    def merge(self, other: UsageLedger) -> None:
        with other._lock:
            rows = {key: u.copy() for key, u in other._rows.items()}
        with self._lock:
            for key, usage in rows.items():
                self._rows.setdefault(key, Usage()).add(usage)

    def record_retry(self, role: str, model: str, invalid_reply: bool = False) -> None:
        with self._lock:
            row = self._row(role, model)
            row.retries += 1
            row.invalid_replies += int(invalid_reply)

    def by_role(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        with self._lock:
            for (role, _), usage in self._rows.items():
                out.setdefault(role, Usage()).add(usage)
        return out

    def total(self) -> Usage:
        out = Usage()
        for usage in self.by_role().values():
            out.add(usage)
        return out

    def to_dict(self) -> dict[str, object]:
        with self._lock:
            rows = [{"role": r, "model": m, **u.as_dict()} for (r, m), u in sorted(self._rows.items())]
        return {"total": self.total().as_dict(), "by_role": {r: u.as_dict() for r, u in self.by_role().items()}, "rows": rows}


DEFAULT_LEDGER = UsageLedger()
# The runner sets this per dialogue task, so usage is attributed to the dialogue that caused it
# even when model objects are shared across dialogues.
ACTIVE_LEDGER: ContextVar[UsageLedger | None] = ContextVar("ncusim_active_ledger", default=None)
