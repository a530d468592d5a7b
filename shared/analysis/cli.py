"""`ncusim analyze`: error analysis and appendix metrics of a results tree (read-only)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from shared import environment
from shared.cli_options import env_option
from shared.errors import ConfigError, printable
from shared.files import write_text_atomic
from shared.paths import results_dir
from shared.scoring import skipped_links_line

PAPER_ANGER_JUDGE = "gpt-4.1-mini"


def analyze(
    path: Annotated[Path, typer.Argument(help="a results tree, an experiment folder or one dialogue folder")],
    env: Annotated[str, env_option("the environment the folders belong to")] = environment.DEFAULT,
    out: Annotated[Path | None, typer.Option(help="output folder (default results/reports/analysis/<env>-<name>)")] = None,
    parity: Annotated[bool, typer.Option(help="show the original scripts' label beside each number")] = True,
    anger_judge: Annotated[
        str | None,
        typer.Option(help="also count user anger and agent failure notices with an LLM judge: 'paper' (gpt-4.1-mini at T=0) or a spec"),
    ] = None,
    prompts: Annotated[str, typer.Option(help="anger judge wording: paper (the original's anger_fail.py) or ncusim")] = "paper",
) -> None:
    """Error analysis (API misuse, failure categories) and appendix metrics per experiment folder."""
    from shared import environment
    from shared.analysis.core import analyze_tree, summary_lines, write_analysis

    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder")
    chosen = environment.get(env)
    started = time.monotonic()
    tree = analyze_tree(chosen, path)
    if not tree.experiments and not tree.failures:
        raise ConfigError(f"no {env} dialogue folders under {path}")
    if not tree.experiments:
        folder, reason = tree.failures[0]
        raise ConfigError(f"none of the {len(tree.failures)} {env} dialogue folders under {path} could be analysed ({folder}: {reason})")
    judged: dict[str, list[dict[str, object]]] = {}
    if prompts not in ("paper", "ncusim"):
        raise ConfigError(f"unknown prompt set {prompts!r}: choose paper or ncusim")
    if anger_judge:
        from shared.analysis.anger import aggregate, count_all
        from shared.llm import resolve

        anger_judge = PAPER_ANGER_JUDGE if anger_judge == "paper" else anger_judge  # anger_fail.py: gpt-4.1-mini, T=0
        judge_model = resolve(anger_judge)
        for experiment in tree.experiments.values():
            folders = [experiment.folder / r["folder"] for r in experiment.records]
            answers = asyncio.run(count_all(folders, judge_model, env=env if prompts == "paper" else None))
            experiment.summary.update(aggregate(answers))
            judged[experiment.name] = answers
    labels = getattr(chosen, "analysis_labels", None) if parity else None
    for line in summary_lines(tree, labels):
        typer.echo(printable(line))
    if tree.links:
        typer.echo(skipped_links_line(tree.links))
    target = out or results_dir() / "reports" / "analysis" / f"{env}-{path.resolve().name}"
    written = write_analysis(tree, target)
    if judged:
        written.append(target / "anger_failure.json")
        write_text_atomic(written[-1], json.dumps({"judge": anger_judge, "prompts": prompts, "experiments": judged}, indent=2))
    typer.echo(f"analysed {tree.analysed} dialogue folders in {len(tree.experiments)} experiments in {time.monotonic() - started:.1f}s")
    typer.echo(f"wrote {', '.join(str(p) for p in written)}")
    for folder, reason in tree.failures:
        typer.echo(f"ncusim: warning: {folder}: {reason}", err=True)


def fetch_results(
    env: Annotated[list[str] | None, typer.Option(help="an environment with published dialogues; repeatable (default all)")] = None,
    force: Annotated[bool, typer.Option(help="download and unpack again even when present")] = False,
) -> None:
    """Download the paper's published dialogues (Google Drive, or NCUSIM_RESULTS_MIRROR) to results/published/<env>/."""
    from shared.analysis.published import fetch_published

    for report in fetch_published(env or None, force=force, echo=typer.echo):
        typer.echo(report.line())


def reproduce_paper(
    source: Annotated[str, typer.Option(help="published (results/published/<env>) or results (our runs, results/<env>)")] = "published",
    env: Annotated[list[str] | None, typer.Option(help="an environment; repeatable (default: every one present)")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default results/reports/paper)")] = None,
) -> None:
    """The paper's tables recomputed from dialogue folders, beside the paper's numbers (Markdown, CSV, PNG)."""
    from shared.analysis.paper import collect, write_report
    from shared.analysis.published import TREE, published_root

    if source not in ("published", "results"):
        raise ConfigError(f"unknown source {source!r}: choose published or results")
    roots = {}
    for name in env or (list(environment.published()) if source == "published" else environment.names()):
        root = published_root(name) / TREE if source == "published" else results_dir() / name
        if root.is_dir():
            roots[name] = root
        elif env:
            hint = "run `make fetch-results`" if source == "published" else f"run `make simulate ENV={name} ...` first"
            raise ConfigError(f"no {source} dialogues for {name} at {root}: {hint}")
    if not roots:
        hint = "`make fetch-results` (or NCUSIM_RESULTS_MIRROR=<dir with the zips>)" if source == "published" else "`make simulate`"
        raise ConfigError(f"no {source} dialogue trees under {results_dir()}: run {hint} first")
    started = time.monotonic()
    collected = []
    for name, root in roots.items():
        typer.echo(f"{name}: scoring {root} ({'re-grading in memory' if source == 'published' else 'recorded grades'}) ...")
        collected.append(collect(name, root, regrade=source == "published"))
    target = out or results_dir() / "reports" / "paper"
    written = write_report(collected, target)
    typer.echo((target / "tables.md").read_text())
    for c in collected:
        scored = sum(s.graded for s in c.experiments)
        agreement = f", {c.agreeing}/{c.compared} grades equal to the recorded ones" if c.regraded else ""
        typer.echo(f"{c.env}: {scored} dialogues in {len(c.experiments)} experiments{agreement}; {len(c.not_graded)} not gradable")
    typer.echo(f"wrote {len(written)} files to {target} in {time.monotonic() - started:.1f}s")


def register_paper(app: typer.Typer) -> None:
    app.command("fetch-results")(fetch_results)
    app.command("reproduce-paper")(reproduce_paper)


def register(app: typer.Typer) -> None:
    app.command()(analyze)
    register_paper(app)
