"""Plots from plain data to PNG files (the report inlines them; paper tables can reuse them).

matplotlib's object API (Figure + Agg canvas), never pyplot: no global state, no display needed,
safe to call from any thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

# (mean, ci_low, ci_high); ci may be nan when there is a single scenario.
Bar = tuple[float, float, float]


def _save(fig: Figure, path: Path, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def grouped_bars(
    path: Path,
    groups: Sequence[str],
    series: Sequence[str],
    values: Mapping[tuple[str, str], Bar],
    *,
    title: str = "",
    ylabel: str = "success rate (%)",
    ylim: tuple[float, float] | None = (0, 100),
    dpi: int = 110,
) -> Path:
    """One group of bars per `groups` entry (e.g. model), one bar per `series` entry (e.g.
    behaviour), with the interval as an error bar; a missing (group, series) leaves a gap."""
    width = 0.8 / max(len(series), 1)
    fig = Figure(figsize=(max(4.0, 1.2 + len(groups) * (0.5 + 0.35 * len(series))), 3.6))
    ax = fig.subplots()
    for i, name in enumerate(series):
        xs, heights, lower, upper = [], [], [], []
        for j, group in enumerate(groups):
            bar = values.get((group, name))
            if bar is None or math.isnan(bar[0]):
                continue
            mean, low, high = bar
            xs.append(j - 0.4 + width * (i + 0.5))
            heights.append(mean)
            lower.append(0.0 if math.isnan(low) else max(mean - low, 0.0))
            upper.append(0.0 if math.isnan(high) else max(high - mean, 0.0))
        if xs:
            ax.bar(xs, heights, width * 0.95, label=name, yerr=[lower, upper], capsize=2, error_kw={"linewidth": 0.8})
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3 else "center", fontsize=8)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path, dpi)


def heatmap(
    path: Path,
    rows: Sequence[str],
    cols: Sequence[str],
    values: Mapping[tuple[str, str], float | None],
    *,
    title: str = "",
    center: float = 100.0,
    fmt: str = "{:.0f}",
    dpi: int = 110,
) -> Path:
    """A rows x cols grid coloured around `center` (relative SR: 100 = as good as with a
    collaborative user), each cell annotated; missing cells stay blank."""
    grid = [[values.get((r, c)) for c in cols] for r in rows]
    present = [v for line in grid for v in line if v is not None and not math.isnan(v)]
    # A fixed minimum span keeps the colours comparable between plots (0 = lost every success).
    span = abs(center) or 1.0
    low = min([*present, center - span])
    high = max([*present, center + span / 4])
    fig = Figure(figsize=(max(3.5, 1.5 + 1.1 * len(cols)), max(2.0, 0.9 + 0.45 * len(rows))))
    ax = fig.subplots()
    masked = [[math.nan if v is None else v for v in line] for line in grid]
    image = ax.imshow(masked, cmap="RdYlGn", norm=TwoSlopeNorm(vmin=low, vcenter=center, vmax=high), aspect="auto")
    for i, line in enumerate(grid):
        for j, v in enumerate(line):
            if v is not None and not math.isnan(v):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(fig, path, dpi)
