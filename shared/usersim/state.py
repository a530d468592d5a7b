"""Per-dialogue simulator state (the original MultiwozUser's attributes, with integer anger counters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

START_PROBABILITY_TENTHS = 5  # outburst probability starts at 0.5 ...
MAX_PROBABILITY_TENTHS = 7  # ... rises by 0.1 per outburst of its kind, up to 0.7
LEVELS = ("Mildly Angry", "Moderately Angry", "Extremely Angry")


@dataclass
class AngerCounter:
    """Outbursts fired of one kind (delay or fail); integers, not float equality (FIDELITY.md)."""

    fired: int = 0

    @property
    def probability(self) -> float:
        return min(START_PROBABILITY_TENTHS + self.fired, MAX_PROBABILITY_TENTHS) / 10

    @property
    def level(self) -> str:
        return LEVELS[min(self.fired, 2)]


@dataclass
class SimulatorState:
    items: list[str]
    remaining: list[str]
    used: list[str] = field(default_factory=list)
    n_tangential: int = 0
    n_complain: int = 0
    utterance_pair: list[dict[str, Any]] = field(default_factory=list)
    current_tangent: str | None = None
    respond_results: list[dict[str, Any]] = field(default_factory=list)
    anger_triggered_last_turn: bool = False
    cynical_mode: bool = False
    delay: AngerCounter = field(default_factory=AngerCounter)
    fail: AngerCounter = field(default_factory=AngerCounter)
    cutoff_flag: bool = False

    def tangential_config(self) -> dict[str, Any]:
        return {"n_tangential": self.n_tangential, "n_complain": self.n_complain, "utterance_pair": self.utterance_pair}

    def dialogue_state_list(self) -> dict[str, list[str]]:
        return {
            "initial_dialogue_state_list": self.items,
            "remaining_dialogue_state_list": self.remaining,
            "used_dialogue_state_list": self.used,
        }
