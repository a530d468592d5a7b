"""`ncusim report PATH`: one self-contained HTML page per results tree.

Score tables (every mean with its std over runs and a bootstrap 95% interval over scenarios),
plots, extra tables from other modules (`Section`), and a transcript viewer over every dialogue
folder of both environments. Reads the tree only; writes `<out_dir>/index.html`.
"""

from __future__ import annotations

import base64
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import environment
from shared.analysis.report_data import Dialogue, ReportData, collect
from shared.analysis.report_rows import ExperimentRow, Section
from shared.analysis.stats import spread
from shared.errors import ConfigError
from shared.files import write_text_atomic
from shared.scoring import ScoreBlock

NORMAL_BEHAVIORS = ("normal", "collaborative")
# A transcript takes about 25 KB of the page: past a few thousand, browsers struggle. Every
# dialogue keeps its table row; `pick_transcripts` spreads the embedded ones over the experiments.
MAX_TRANSCRIPTS = 2000


def _row(block: ScoreBlock, members: list[Dialogue], group: str | None, first: Dialogue) -> ExperimentRow:
    scored = [d for d in members if d.graded and d.run is not None]

    def per_scenario(value: Any) -> list[float]:
        by: dict[str, list[float]] = {}
        for d in scored:
            by.setdefault(d.scenario, []).append(value(d))
        return [sum(v) / len(v) for v in by.values()]

    costs = [d.cost for d in members if d.cost is not None]
    return ExperimentRow(
        env=first.env,
        source=first.source,
        kind=first.kind,
        model=first.model,
        behaviour=first.behaviour,
        folder=first.experiment,
        group=group,
        graded=block.total_graded,
        runs=len(block.runs),
        success=spread(block.values.get("success_rate", []), per_scenario(lambda d: 100.0 * bool(d.passed))),
        pass_rate=spread(block.values.get("pass_rate", []), per_scenario(lambda d: 100.0 * float(d.score or 0.0))),
        goal_align=spread(block.values.get("goal_align", []), per_scenario(lambda d: 100.0 * bool(d.aligned))),
        pass_hat=list(block.pass_hat),
        cost=sum(costs) if costs else None,
        cost_dialogues=len(costs),
    )


def experiment_rows(data: ReportData) -> list[ExperimentRow]:
    """Score rows per experiment (and per Tau domain), with relative SR against the same model's
    normal run in the same environment and tree."""
    by_experiment: dict[Path, list[Dialogue]] = {}
    for d in data.dialogues:
        by_experiment.setdefault(d.experiment, []).append(d)
    failures: dict[Path, int] = {}
    for folder, _ in data.failures:
        failures[folder.parent] = failures.get(folder.parent, 0) + 1
    rows: list[ExperimentRow] = []
    for env_name, tree in data.scores.items():
        group_of = getattr(data.envs[env_name], "score_group", None)
        for experiment, block in tree.blocks.items():
            members = by_experiment.get(experiment, [])
            if not members:
                continue
            row = _row(block, members, None, members[0])
            row.ungradable = failures.get(experiment, 0)
            rows.append(row)
            for name, sub in block.groups.items():
                inside = [d for d in members if group_of is not None and group_of(d.folder.name) == name]
                rows.append(_row(sub, inside, name, members[0]))
    normal: dict[tuple[str, ...], float] = {}
    for row in rows:
        if row.behaviour in NORMAL_BEHAVIORS and not math.isnan(row.success.mean):
            normal[(row.env, row.source, row.kind, row.model, row.group or "")] = row.success.mean
    for row in rows:
        base = normal.get((row.env, row.source, row.kind, row.model, row.group or ""))
        if base is None:  # PBUS has no normal run of its own: compare with ours
            base = normal.get((row.env, row.source, "ours", row.model, row.group or ""))
        if base and not math.isnan(row.success.mean):
            row.relative_sr = row.success.mean / base * 100.0
    rows.sort(key=lambda r: (r.env, r.source, r.kind, r.model, r.behaviour not in NORMAL_BEHAVIORS, r.behaviour, r.group or ""))
    return rows


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def make_plots(rows: Sequence[ExperimentRow]) -> list[tuple[str, str]]:
    """(caption, PNG data URI): SR by behaviour per model with CI bars, and the relative SR heatmap,
    one pair per environment and tree."""
    from shared.analysis import plots  # matplotlib takes a second to import: only when plotting

    out: list[tuple[str, str]] = []
    pooled = [r for r in rows if r.group is None]
    scopes = sorted({(r.env, r.source) for r in pooled})
    with tempfile.TemporaryDirectory(prefix="ncusim-plots-") as tmp:
        for index, (env, source) in enumerate(scopes):
            scope = [r for r in pooled if (r.env, r.source) == (env, source)]
            several_kinds = len({r.kind for r in scope}) > 1
            label = {id(r): f"{r.kind}/{r.model}" if several_kinds else r.model for r in scope}
            models = sorted(dict.fromkeys(label[id(r)] for r in scope))
            behaviours = sorted({r.behaviour for r in scope}, key=lambda b: (b not in NORMAL_BEHAVIORS, b))
            where = f"{env}" + (f" ({source})" if source and source != env else "")
            bars = {(label[id(r)], r.behaviour): (r.success.mean, r.success.ci_low, r.success.ci_high) for r in scope}
            path = plots.grouped_bars(
                Path(tmp) / f"sr-{index}.png",
                models,
                behaviours,
                bars,
                title=f"Success rate by behaviour, {where} (bars: bootstrap 95% CI)",
            )
            out.append((f"Success rate by behaviour per model, {where}", _data_uri(path)))
            relative = {(label[id(r)], r.behaviour): r.relative_sr for r in scope if r.relative_sr is not None}
            columns = [b for b in behaviours if b not in NORMAL_BEHAVIORS and any((m, b) in relative for m in models)]
            if columns:
                path = plots.heatmap(Path(tmp) / f"rel-{index}.png", models, columns, relative, title=f"Relative SR (% of normal), {where}")
                out.append((f"Relative success rate (behaviour SR / normal SR × 100), {where}", _data_uri(path)))
    return out


@dataclass(frozen=True)
class ReportResult:
    path: Path
    dialogues: int
    experiments: int
    environments: tuple[str, ...]
    ungradable: int
    transcripts: int  # embedded in the page (see MAX_TRANSCRIPTS)
    size_bytes: int


def pick_transcripts(dialogues: Sequence[Dialogue], limit: int | None) -> set[int]:
    """Ids of the dialogues whose transcripts go into the page: all when they fit, else round-robin
    over the experiments (each in run, scenario order) so every experiment keeps some."""
    if limit is None or len(dialogues) <= limit:
        return {d.id for d in dialogues}
    queues: dict[Path, list[Dialogue]] = {}
    for d in sorted(dialogues, key=lambda d: (d.run if d.run is not None else -1, d.scenario, d.folder.name)):
        queues.setdefault(d.experiment, []).append(d)
    picked: set[int] = set()
    depth = 0
    while len(picked) < limit:
        for queue in queues.values():
            if depth < len(queue) and len(picked) < limit:
                picked.add(queue[depth].id)
        depth += 1
    return picked


def generate(
    root: Path,
    out_dir: Path,
    *,
    title: str | None = None,
    extra_sections: Sequence[Section] = (),
    max_transcripts: int | None = MAX_TRANSCRIPTS,
) -> ReportResult:
    """`build_report` with the counts the CLI prints."""
    from shared.analysis.report_html import render

    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder")
    data = collect(root)
    if not data.dialogues:
        raise ConfigError(f"no dialogue folders ({' or '.join(environment.names())}) under {root}")
    rows = experiment_rows(data)
    embedded = pick_transcripts(data.dialogues, max_transcripts)
    data.transcripts = {k: v for k, v in data.transcripts.items() if k in embedded}
    page = render(data, rows, make_plots(rows), extra_sections, title=title or f"ncusim report: {root.resolve().name}")
    target = Path(out_dir) / "index.html"
    write_text_atomic(target, page)
    return ReportResult(
        path=target,
        dialogues=len(data.dialogues),
        experiments=sum(r.group is None for r in rows),
        environments=tuple(data.envs),
        ungradable=len(data.failures),
        transcripts=len(data.transcripts),
        size_bytes=len(page.encode("utf-8")),
    )


def build_report(
    root: Path,
    out_dir: Path,
    *,
    title: str | None = None,
    extra_sections: Sequence[Section] = (),
    max_transcripts: int | None = MAX_TRANSCRIPTS,
) -> Path:
    """Write `out_dir/index.html` for every dialogue folder under `root`; returns its path."""
    return generate(root, out_dir, title=title, extra_sections=extra_sections, max_transcripts=max_transcripts).path
