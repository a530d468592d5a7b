"""The rows and extra tables of the report page: what `report` computes and `report_html` draws
(their own module, so the two import it and not each other)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.analysis.stats import Spread
from shared.pass_hat_k import PassHatK


@dataclass(frozen=True)
class Section:
    """An extra table for the page. Cells are shown as text (escaped): strings as given, floats
    with 2 decimals, `Spread` as `mean ± std [low, high]`, None as a dash."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""


@dataclass
class ExperimentRow:
    """One line of the score table: an experiment folder, or one of its groups (Tau's domains)."""

    env: str
    source: str
    kind: str
    model: str
    behaviour: str
    folder: Path
    group: str | None
    graded: int
    runs: int
    success: Spread
    pass_rate: Spread
    goal_align: Spread
    relative_sr: float | None = None
    pass_hat: list[PassHatK] = field(default_factory=list)  # pass^k, k = 1 .. N
    cost: float | None = None
    cost_dialogues: int = 0
    ungradable: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tree(self) -> str:
        return "/".join(p for p in (self.source, self.kind) if p)
