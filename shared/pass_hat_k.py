"""pass^k, tau-bench's reliability measure: how likely an agent is to succeed on all of k trials of
the same scenario.

For a scenario with n graded trials of which c succeeded, C(c, k) / C(n, k) is the unbiased
estimate of that chance; pass^k is its mean over scenarios (tau-bench's definition, which assumes
every scenario has the same n). Here a scenario whose run is incomplete (n < k) is left out at
that k, and the number of scenarios counted is reported beside each value. pass^1 is the success
rate over scenarios. The interval is a percentile bootstrap over scenarios (`analysis.stats`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PassHatK:
    k: int
    value: float  # percent
    low: float  # bootstrap 95 % interval, percent
    high: float
    scenarios: int  # scenarios with at least k graded trials

    def text(self) -> str:
        return f"k={self.k} {self.value:.3f} [{self.low:.1f}, {self.high:.1f}] ({self.scenarios} scenarios)"

    def as_dict(self) -> dict[str, float | int]:
        return {"value": round(self.value, 3), "ci_low": round(self.low, 3), "ci_high": round(self.high, 3), "scenarios": self.scenarios}


def scenario_chance(successes: int, trials: int, k: int) -> float:
    """C(c, k) / C(n, k): the chance that k of the n trials, drawn without replacement, all succeeded."""
    return math.comb(successes, k) / math.comb(trials, k)


def pass_hat_k(outcomes: Mapping[str, Sequence[bool]]) -> list[PassHatK]:
    """pass^k for k = 1 .. the most trials any scenario has; `outcomes` maps a scenario to its trials."""
    from shared.analysis.stats import bootstrap_ci

    most = max((len(trials) for trials in outcomes.values()), default=0)
    table = []
    for k in range(1, most + 1):
        chances = [scenario_chance(sum(trials), len(trials), k) for trials in outcomes.values() if len(trials) >= k]
        low, high = bootstrap_ci(chances)
        table.append(PassHatK(k, math.fsum(chances) / len(chances) * 100, low * 100, high * 100, len(chances)))
    return table


def by_scenario(trials: Iterable[tuple[str, bool]]) -> dict[str, list[bool]]:
    """(scenario, succeeded) pairs grouped by scenario, in first-seen order."""
    grouped: dict[str, list[bool]] = {}
    for scenario, succeeded in trials:
        grouped.setdefault(scenario, []).append(succeeded)
    return grouped


def line(table: Sequence[PassHatK]) -> str:
    return "pass^k: " + ("; ".join(row.text() for row in table) if table else "nan")
