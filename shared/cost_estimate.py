"""What a run will cost before it starts: calls, tokens and dollars per model.

Priced from shared/cost_profile.json (measured by scripts/measure_cost_profile.py from the
published reference dialogues and the original simulator's recorded requests) and
shared/llm/prices.yaml. Per dialogue of a behaviour: the agent's steps and tokens and the user's
turns and tokens as in the reference folders, the agent's system prompt at its real size for the
environment, helper calls per user turn of each kind on the model that call is routed to, and one
judge call per user turn. First attempts only: regenerating unaligned dialogues adds to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from shared.llm.resolve import hosted_api
from shared.llm.usage import price_of
from shared.usersim.config import Behaviors

CONFIRM_ABOVE = 1000  # dialogues: a plan this large asks before it spends
CHARS_PER_TOKEN = 4
HISTORY_KINDS = {"tracker", "rest_provider", "ending_check", "outburst", "merge", "cynical"}  # their prompts carry the dialogue
JUDGE_PROMPT_TOKENS = 300.0
JUDGE_OUT_TOKENS = 60.0


@cache
def profile() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("shared").joinpath("cost_profile.json").read_text(encoding="utf-8"))
    return data


@dataclass
class ModelCost:
    calls: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    priced: bool = True

    def add(self, calls: float, input_tokens: float, output_tokens: float) -> None:
        self.calls += calls
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens


@dataclass
class Estimate:
    dialogues: int
    by_model: dict[str, ModelCost] = field(default_factory=dict)

    def dollars(self, spec: str) -> float | None:
        cost = self.by_model[spec]
        price = _price(spec)
        if price is None:
            return None
        return (cost.input_tokens * price[0] + cost.output_tokens * price[1]) / 1e6

    @property
    def total_dollars(self) -> float:
        return sum(d for d in (self.dollars(s) for s in self.by_model) if d is not None)

    def lines(self) -> list[str]:
        out = [f"{'model':40s} {'calls':>10s} {'input tokens':>14s} {'output tokens':>14s} {'est. $':>10s}"]
        for spec, cost in sorted(self.by_model.items()):
            dollars = self.dollars(spec)
            shown = f"{dollars:10.2f}" if dollars is not None else f"{'unpriced':>10s}"
            out.append(f"{spec:40s} {cost.calls:10,.0f} {cost.input_tokens:14,.0f} {cost.output_tokens:14,.0f} {shown}")
        unpriced = [s for s in self.by_model if self.dollars(s) is None]
        out.append(
            f"estimated total ${self.total_dollars:,.2f} for {self.dialogues:,} dialogues (first attempts; regenerating unaligned "
            f"ones adds to it{'; unpriced: ' + ', '.join(unpriced) if unpriced else ''})"
        )
        return out


def _price(spec: str) -> tuple[float, float] | None:
    hosted = hosted_api(spec)
    return price_of(*hosted) if hosted is not None else (0.0, 0.0)  # served or loaded by the user: free


def _dialogue_profile(behaviour: Behaviors) -> dict[str, float]:
    table = profile()["dialogues"]
    flags = [name for name in behaviour.name.split("+") if name in table] or ["normal"]
    rows = [table[name] for name in flags]
    return {key: max(float(r[key]) for r in rows) for key in rows[0]}


def _helper_profile(behaviour: Behaviors) -> dict[str, dict[str, float]]:
    table = profile()["helpers"]
    prefix = "pbus:" if behaviour.is_pbus else ""
    flags = [name for name in behaviour.name.split("+") if prefix + name in table] or ([] if behaviour.is_pbus else ["normal"])
    merged: dict[str, dict[str, float]] = {}
    for name in flags:
        for kind, row in table[prefix + name].items():
            if kind not in merged or row["per_user_turn"] > merged[kind]["per_user_turn"]:
                merged[kind] = row
    return merged


def estimate(
    counts: Mapping[tuple[str, str], tuple[Behaviors, int]],
    routing: Mapping[str, str],
    agent_system_tokens: Callable[[], float],
) -> Estimate:
    """`counts`: (agent spec, behaviour name) -> (behaviour, dialogues to run); `routing`: call -> spec."""
    result = Estimate(sum(n for _, n in counts.values()))
    system = agent_system_tokens()

    def add(spec: str, calls: float, input_tokens: float, output_tokens: float) -> None:
        result.by_model.setdefault(spec, ModelCost()).add(calls, input_tokens, output_tokens)

    for (agent, _), (behaviour, n) in counts.items():
        if n == 0:
            continue
        d = _dialogue_profile(behaviour)
        steps, turns, history = d["agent_steps"], d["user_turns"], d["history"]
        agent_in = d["agent_in"] + steps * (system - d["agent_system"])  # the environment's real system prompt
        add(agent, n * steps, n * agent_in, n * d["agent_out"])
        add(routing["user"], n * turns, n * d["user_in"], n * d["user_out"])
        for kind, row in _helper_profile(behaviour).items():
            calls = row["per_user_turn"] * turns
            size = row["in_tokens"] + (history / 2 if kind in HISTORY_KINDS else 0.0)
            add(routing.get(kind, routing["user"]), n * calls, n * calls * size, n * calls * row["out_tokens"])
        add(routing["judge"], n * turns, n * turns * (JUDGE_PROMPT_TOKENS + history / 2), n * turns * JUDGE_OUT_TOKENS)
    return result


def count_plan(items: Sequence[tuple[str, Behaviors]]) -> dict[tuple[str, str], tuple[Behaviors, int]]:
    """Dialogues per (agent spec, behaviour) from the (agent, behaviour) of each dialogue to run."""
    counts: dict[tuple[str, str], tuple[Behaviors, int]] = {}
    for agent, behaviour in items:
        key = (agent, ("pbus:" if behaviour.is_pbus else "") + behaviour.name)
        counts[key] = (behaviour, counts.get(key, (behaviour, 0))[1] + 1)
    return counts
