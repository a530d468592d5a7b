"""`make reproduce-paper`: the paper's tables recomputed from dialogue folders, beside its numbers.

Input is a tree per environment holding `<ours|pbus>/<model>/<behaviour>/<dialogue>/`: the
published dialogues (`results/published/<env>/experiment_result`, re-graded in memory with our
graders, so the published files are never rewritten, and compared with their recorded grades) or
our own runs (`results/<env>`, recorded grades). Every mean carries its std over the N runs and a
bootstrap 95% interval over scenarios. Output: `tables.md`, one CSV per table and PNG plots.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from shared import environment
from shared.analysis import plots
from shared.analysis.core import analyze_tree
from shared.analysis.stats import Spread, spread_of
from shared.files import write_text_atomic
from shared.pass_hat_k import PassHatK
from shared.scoring import DialogueScore, pass_hat_of, scenario_of, score_tree
from shared.usersim.config import PAPER_BEHAVIORS

SHORT = {
    "normal": "Collab",
    "unavailable_service": "Unavail",
    "tangential": "Tang",
    "emotional_acts": "Impat",
    "fragment_dumping": "Incompl",
}


@cache
def paper_numbers() -> dict[str, Any]:
    return yaml.safe_load(Path(__file__).with_name("paper_results.yaml").read_text())


def paper_sr(env: str, model: str, behaviour: str) -> float | None:
    table = paper_numbers()["success_rate"].get(env, {})
    if model not in table or behaviour not in paper_numbers()["behaviours"]:
        return None
    return float(table[model][paper_numbers()["behaviours"].index(behaviour)])


def _spread(scores: Sequence[DialogueScore], value: Callable[[DialogueScore], float]) -> Spread:
    by_run: dict[int, list[float]] = {}
    for score in scores:
        by_run.setdefault(score.run, []).append(value(score) * 100)
    return spread_of(by_run, [(scenario_of(s.folder.name), value(s) * 100) for s in scores])


@dataclass
class ExperimentStats:
    env: str
    simulator: str  # ours | pbus
    model: str
    behaviour: str
    graded: int
    success: Spread
    pass_rate: Spread
    goal_align: Spread
    domains: dict[str, Spread] = field(default_factory=dict)
    analysis: dict[str, Any] = field(default_factory=dict)
    iga: float | None = None  # share aligned at the first attempt (our runs' run.json)
    pass_hat: list[PassHatK] = field(default_factory=list)  # pass^k, k = 1 .. N

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.env, self.simulator, self.model, self.behaviour


@dataclass
class Collected:
    env: str
    root: Path
    experiments: list[ExperimentStats]
    regraded: bool
    compared: int
    agreeing: int
    not_graded: list[tuple[Path, str]]


def collect(env_name: str, root: Path, regrade: bool) -> Collected:
    env = environment.get(env_name)
    tree = score_tree(env, root, regrade=regrade, write=False)
    analysis = analyze_tree(env, root)
    group = env.score_group
    out = []
    for experiment, scores in tree.scores.items():
        parts = experiment.relative_to(root).parts if experiment.is_relative_to(root) else ()
        if len(parts) != 3 or parts[0] not in ("ours", "pbus"):
            continue  # not `<ours|pbus>/<model>/<behaviour>` (e.g. train-mode runs under train/)
        simulator, model, behaviour = parts
        domains: dict[str, list[DialogueScore]] = {}
        if group is not None:
            for s in scores:
                name = group(s.folder.name)
                if name:
                    domains.setdefault(name, []).append(s)
        found = analysis.experiments.get(experiment)
        out.append(
            ExperimentStats(
                env=env_name,
                simulator=simulator,
                model=model,
                behaviour=behaviour,
                graded=len(scores),
                success=_spread(scores, lambda s: float(s.passed)),
                pass_rate=_spread(scores, lambda s: s.pass_fraction),
                goal_align=_spread(scores, lambda s: float(bool(s.aligned))),
                domains={d: _spread(members, lambda s: float(s.passed)) for d, members in sorted(domains.items())},
                analysis=found.summary if found else {},
                iga=_iga(experiment),
                pass_hat=pass_hat_of(scores),
            )
        )
    return Collected(env_name, root, out, regrade, tree.compared, tree.agreeing, tree.failures + analysis.failures)


def _iga(experiment: Path) -> float | None:
    try:
        value = json.loads((experiment / "run.json").read_text()).get("iga")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


# --- tables -----------------------------------------------------------------------------


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.note:
            lines += [self.note, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue()


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _models(stats: Sequence[ExperimentStats]) -> list[str]:
    order = list(paper_numbers()["success_rate"].get(stats[0].env, {})) if stats else []
    return sorted({s.model for s in stats}, key=lambda m: (order.index(m) if m in order else len(order), m))


def _behaviors(stats: Sequence[ExperimentStats]) -> list[str]:
    present = {s.behaviour for s in stats}
    return [b for b in PAPER_BEHAVIORS if b in present] + sorted(present - set(PAPER_BEHAVIORS))


def sr_table(c: Collected, simulator: str = "ours") -> Table:
    stats = [s for s in c.experiments if s.simulator == simulator]
    by = {(s.model, s.behaviour): s for s in stats}
    rows = []
    for model in _models(stats):
        for behaviour in _behaviors(stats):
            s = by.get((model, behaviour))
            if s is None:
                continue
            paper = paper_sr(c.env, model, behaviour) if simulator == "ours" else None
            diff = s.success.mean - paper if paper is not None and not math.isnan(s.success.mean) else None
            row = [model, behaviour, str(s.graded), s.success.text(), _num(paper), _num(diff)]
            row.append(", ".join(f"{d} {sp.text()}" for d, sp in s.domains.items()) or "")
            rows.append(row)
    return Table(
        f"sr_{c.env}_{simulator}",
        f"{c.env}: success rate (%) per model x behaviour ({simulator})",
        ["model", "behaviour", "graded", "SR ours (± std over runs [95% CI over scenarios])", "SR paper", "ours − paper", "per domain"],
        rows,
        " ".join(["Paper numbers: PAPER_RESULTS.md §2, a secondary source.", *environment.get(c.env).table_notes.get("success", ())]),
    )


def relative_sr(c: Collected, simulator: str = "ours") -> dict[tuple[str, str], float]:
    stats = {(s.model, s.behaviour): s for s in c.experiments if s.simulator == simulator}
    out = {}
    for (model, behaviour), s in stats.items():
        base = stats.get((model, "normal"))
        if base and behaviour != "normal" and base.success.mean > 0:
            out[(model, behaviour)] = s.success.mean / base.success.mean * 100
    return out


def relative_table(c: Collected) -> Table:
    ours = relative_sr(c)
    rows = []
    for (model, behaviour), value in sorted(ours.items()):
        normal, other = paper_sr(c.env, model, "normal"), paper_sr(c.env, model, behaviour)
        paper = other / normal * 100 if normal and other is not None else None
        rows.append([model, behaviour, _num(value), _num(paper)])
    title = f"{c.env}: relative SR = SR(behaviour) / SR(collaborative) × 100"
    return Table(f"relative_sr_{c.env}", title, ["model", "behaviour", "ours", "paper (derived)"], rows)


def pass_align_table(c: Collected) -> Table:
    rows = [
        [s.simulator, s.model, s.behaviour, s.pass_rate.text(), s.goal_align.text(), _num(s.iga)]
        for s in sorted(c.experiments, key=lambda s: (s.simulator, s.model, s.behaviour))
    ]
    note = " ".join(
        [
            *environment.get(c.env).table_notes.get("pass_align", ()),
            "Goal alignment of the final (regenerated) dialogues; IGA (aligned at the first attempt) from our runs' run.json.",
        ]
    )
    columns = ["simulator", "model", "behaviour", "pass rate", "goal alignment", "IGA"]
    return Table(f"pass_align_{c.env}", f"{c.env}: pass rate and goal alignment (%)", columns, rows, note)


APPENDIX_KEYS = ("apology_ratio", "tangential_complaints_per_dialogue", "invented_observations_per_dialogue", "average_reasoning")


def analysis_table(c: Collected, keys: Sequence[str], name: str, title: str, digits: int = 3) -> Table:
    rows = []
    for s in sorted(c.experiments, key=lambda s: (s.simulator, s.model, s.behaviour)):
        values = [s.analysis.get(k) for k in keys]
        cells = [_num(v, digits) if isinstance(v, float) else ("–" if v is None else str(v)) for v in values]
        rows.append([s.simulator, s.model, s.behaviour, *cells])
    return Table(f"{name}_{c.env}", f"{c.env}: {title}", ["simulator", "model", "behaviour", *keys], rows)


def pbus_table(c: Collected) -> Table | None:
    ours = {(s.model, s.behaviour): s for s in c.experiments if s.simulator == "ours"}
    pbus = {(s.model, s.behaviour): s for s in c.experiments if s.simulator == "pbus"}
    shared_keys = sorted(set(ours) & set(pbus))
    if not shared_keys:
        return None
    rows = []
    for m, b in shared_keys:
        mine, baseline = ours[(m, b)].success, pbus[(m, b)].success
        rows.append([m, b, mine.text(), baseline.text(), _num(mine.mean - baseline.mean)])
    title = f"{c.env}: SR with our simulator vs the prompt-only baseline"
    return Table(f"pbus_vs_ours_{c.env}", title, ["model", "behaviour", "ours", "PBUS", "ours − PBUS"], rows)


def pass_hat_table(c: Collected) -> Table:
    most = max((len(s.pass_hat) for s in c.experiments), default=0)
    rows = []
    for s in sorted(c.experiments, key=lambda s: (s.simulator, s.model, s.behaviour)):
        cells = [f"{p.value:.1f} [{p.low:.1f}, {p.high:.1f}]" for p in s.pass_hat] + ["–"] * (most - len(s.pass_hat))
        rows.append([s.simulator, s.model, s.behaviour, *cells])
    note = (
        "pass^k (tau-bench): per scenario with n graded trials of which c succeeded, C(c,k)/C(n,k), averaged over the "
        "scenarios with at least k trials; [bootstrap 95% CI over scenarios]. pass^1 is the success rate over scenarios."
    )
    columns = ["simulator", "model", "behaviour", *(f"pass^{k}" for k in range(1, most + 1))]
    return Table(f"pass_hat_k_{c.env}", f"{c.env}: pass^k (%), reliability over repeated trials", columns, rows, note)


def regrade_table(collected: Sequence[Collected]) -> Table:
    rows = []
    for c in collected:
        graded = sum(s.graded for s in c.experiments)
        agreement = f"{c.agreeing}/{c.compared}" if c.regraded else "not re-graded (recorded grades)"
        rows.append([c.env, str(c.root), str(graded), agreement, str(len(c.not_graded))])
    columns = ["env", "tree", "scored", "same grade as recorded", "not gradable"]
    return Table("regrade", "Dialogues scored and agreement of our grades with the recorded ones", columns, rows)


def build_tables(collected: Sequence[Collected]) -> list[Table]:
    tables = [regrade_table(collected)]
    for c in collected:
        tables += [sr_table(c), relative_table(c), pass_align_table(c), pass_hat_table(c)]
        if (p := pbus_table(c)) is not None:
            tables.append(p)
        tables.append(analysis_table(c, APPENDIX_KEYS, "appendix", "appendix metrics (apology ratio: impatience rows are the paper's)"))
        keys = environment.get(c.env).failure_keys
        tables.append(analysis_table(c, keys, "failures", "failure and API-misuse counters", digits=2))
    return tables


def plot_all(collected: Sequence[Collected], out_dir: Path) -> list[Path]:
    paths = []
    for c in collected:
        ours = [s for s in c.experiments if s.simulator == "ours"]
        if not ours:
            continue
        models, behaviours = _models(ours), _behaviors(ours)
        bars = {(s.model, SHORT.get(s.behaviour, s.behaviour)): (s.success.mean, s.success.ci_low, s.success.ci_high) for s in ours}
        series = [SHORT.get(b, b) for b in behaviours]
        title = f"{c.env}: SR by behaviour (95% CI)"
        paths.append(plots.grouped_bars(out_dir / f"sr_by_behaviour_{c.env}.png", models, series, bars, title=title))
        relative = {(m, SHORT.get(b, b)): v for (m, b), v in relative_sr(c).items()}
        if relative:
            cols = [SHORT.get(b, b) for b in behaviours if b != "normal"]
            paths.append(plots.heatmap(out_dir / f"relative_sr_{c.env}.png", models, cols, relative, title=f"{c.env}: relative SR"))
        apology = {(s.model, SHORT.get(s.behaviour, s.behaviour)): (float(s.analysis["apology_ratio"]) * 100, math.nan, math.nan)
                   for s in ours if s.analysis.get("apology_ratio") is not None}  # fmt: skip
        if apology:
            paths.append(
                plots.grouped_bars(
                    out_dir / f"apology_ratio_{c.env}.png", models, [SHORT.get(b, b) for b in behaviours], apology,
                    title=f"{c.env}: apology ratio (% of agent turns)", ylabel="apologies (%)", ylim=None,
                )
            )  # fmt: skip
    return paths


def write_report(collected: Sequence[Collected], out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = build_tables(collected)
    written = []
    for table in tables:
        path = out_dir / f"{table.name}.csv"
        write_text_atomic(path, table.csv())
        written.append(path)
    written += plot_all(collected, out_dir)
    body = "# Paper tables recomputed by ncusim\n\n" + "\n".join(t.markdown() for t in tables)
    body += "\n" + "".join(f"![{p.stem}]({p.name})\n\n" for p in written if p.suffix == ".png")
    write_text_atomic(out_dir / "tables.md", body)
    stats = [{**{k: v for k, v in vars(s).items() if k not in ("success", "pass_rate", "goal_align", "domains")},
              "success": s.success.as_dict(), "pass_rate": s.pass_rate.as_dict(), "goal_align": s.goal_align.as_dict(),
              "domains": {d: sp.as_dict() for d, sp in s.domains.items()}} for c in collected for s in c.experiments]  # fmt: skip
    write_text_atomic(out_dir / "experiments.json", json.dumps(stats, indent=2, default=str))
    return [out_dir / "tables.md", out_dir / "experiments.json", *written]
