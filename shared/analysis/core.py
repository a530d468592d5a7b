"""Error analysis over a results tree: each dialogue folder's counters (from its environment), an
experiment's summary, files written under the output folder only.

An experiment is the folder holding dialogue folders (`<ours|pbus>/<model>/<behaviour>`). A folder
that cannot be analysed (missing or broken files) is reported with its reason and left out; the
dialogue folders themselves are never changed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.environment import Environment
from shared.files import write_text_atomic
from shared.scoring import dialogue_folders


@dataclass
class ExperimentAnalysis:
    folder: Path
    name: str  # the experiment's path below the analysed root, e.g. ours/gpt-4.1-mini/tangential
    records: list[dict[str, Any]]
    summary: dict[str, Any]


@dataclass
class TreeAnalysis:
    env: str
    root: Path
    experiments: dict[Path, ExperimentAnalysis] = field(default_factory=dict)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    links: list[Path] = field(default_factory=list)  # symbolic links in the tree, not followed

    @property
    def analysed(self) -> int:
        return sum(len(e.records) for e in self.experiments.values())


def analyze_tree(env: Environment, root: Path) -> TreeAnalysis:
    root = Path(root)
    result = TreeAnalysis(env=env.name, root=root)
    grouped: dict[Path, list[dict[str, Any]]] = {}
    for folder in dialogue_folders(root, env.is_dialogue_folder, result.links):
        try:
            record = env.analyze_dialogue(folder)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
            result.failures.append((folder, f"cannot be analysed: {type(exc).__name__}: {exc}"))
            continue
        grouped.setdefault(folder.parent, []).append(record)
    for experiment, records in sorted(grouped.items()):
        name = "/".join(experiment.relative_to(root).parts) if experiment != root and experiment.is_relative_to(root) else experiment.name
        result.experiments[experiment] = ExperimentAnalysis(experiment, name or experiment.name, records, env.summarize_analysis(records))
    return result


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def summary_lines(tree: TreeAnalysis, labels: dict[str, str] | None = None) -> list[str]:
    """Per experiment, one `key: value` line per number; `labels` adds the original's wording."""
    out: list[str] = []
    for experiment in tree.experiments.values():
        out.append(f"Analysis of {experiment.folder}")
        for key, value in experiment.summary.items():
            original = f"  ({labels[key]})" if labels and key in labels else ""
            out.append(f"  {key}: {_fmt(value)}{original}")
        out.append("")
    return out


def markdown_table(tree: TreeAnalysis) -> str:
    experiments = list(tree.experiments.values())
    keys = list(dict.fromkeys(k for e in experiments for k in e.summary))
    lines = ["| experiment | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for e in experiments:
        lines.append(f"| {e.name} | " + " | ".join(_fmt(e.summary.get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def records_csv(tree: TreeAnalysis) -> str:
    rows = [{"experiment": e.name, **r} for e in tree.experiments.values() for r in e.records]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_analysis(tree: TreeAnalysis, out_dir: Path) -> list[Path]:
    """analysis.json (summaries and per-dialogue records), analysis.md, dialogues.csv."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "env": tree.env,
        "root": str(tree.root),
        "experiments": {e.name: {"summary": e.summary, "dialogues": e.records} for e in tree.experiments.values()},
        "not_analysed": [{"folder": str(f), "reason": r} for f, r in tree.failures],
    }
    paths = [out_dir / "analysis.json", out_dir / "analysis.md", out_dir / "dialogues.csv"]
    write_text_atomic(paths[0], json.dumps(payload, indent=2))
    write_text_atomic(paths[1], f"# Error analysis ({tree.env}): {tree.root}\n\n" + markdown_table(tree))
    write_text_atomic(paths[2], records_csv(tree))
    return paths
