"""Spread of a mean: std over the N runs and a bootstrap 95% interval over scenarios.

A table that shows a mean without its spread invites reading noise as a difference. Every mean
the kit reports carries both: the population std over runs (as the original's evaluator printed)
and a percentile bootstrap interval over scenarios (a scenario's value = its mean over runs), with
a fixed seed so the same folders always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def pstdev(values: Sequence[float]) -> float:
    """Population std (divides by N), as the original's evaluator and `shared.scoring` compute it."""
    if not values:
        return math.nan
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / len(values))


def bootstrap_ci(
    values: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: resample `values` with replacement.

    Empty input gives (nan, nan); one value or identical values give a zero-width interval.
    """
    import numpy as np  # not at module import: the CLI imports this module for every command

    if not values:
        return math.nan, math.nan
    data = np.asarray(values, dtype=float)
    if len(data) == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def group_means(pairs: Iterable[tuple[Hashable, float]]) -> list[float]:
    """One value per key (e.g. scenario): the mean of its values, keys in first-seen order."""
    groups: dict[Hashable, list[float]] = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return [mean(v) for v in groups.values()]


@dataclass(frozen=True)
class Spread:
    """A mean with its std over runs and its bootstrap interval over scenarios."""

    mean: float
    std: float  # population std of the per-run values
    runs: int
    ci_low: float
    ci_high: float
    scenarios: int

    def text(self, digits: int = 1) -> str:
        """`61.2 ± 3.4 [55.0, 67.1]`; `–` when there is no value."""
        if math.isnan(self.mean):
            return "–"
        out = f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"
        if not math.isnan(self.ci_low):
            out += f" [{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"
        return out

    def as_dict(self) -> dict[str, float | int | None]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 6)

        return {
            "mean": clean(self.mean),
            "std": clean(self.std),
            "runs": self.runs,
            "ci_low": clean(self.ci_low),
            "ci_high": clean(self.ci_high),
            "scenarios": self.scenarios,
        }


def spread(per_run: Sequence[float], per_scenario: Sequence[float], *, seed: int = BOOTSTRAP_SEED) -> Spread:
    """The mean and std of the per-run values, and the bootstrap interval of the per-scenario values."""
    low, high = bootstrap_ci(per_scenario, seed=seed)
    return Spread(mean(per_run), pstdev(per_run), len(per_run), low, high, len(per_scenario))


def spread_of(values_by_run: Mapping[int, Sequence[float]], scenario_values: Iterable[tuple[Hashable, float]]) -> Spread:
    """Per-run means from raw per-dialogue values grouped by run, scenario means from (scenario, value)."""
    per_run = [mean(values) for _, values in sorted(values_by_run.items()) if values]
    return spread(per_run, group_means(scenario_values))
