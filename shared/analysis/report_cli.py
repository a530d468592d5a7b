"""`ncusim report PATH`: the CLI face of `shared.analysis.report` (make report RESULTS=...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shared.analysis.report import MAX_TRANSCRIPTS


def register(app: typer.Typer) -> None:
    """Add the report command to the `ncusim` app."""

    @app.command()
    def report(
        path: Annotated[
            Path, typer.Argument(help="a results tree (ours or the original's experiment_result), any folder above dialogue folders")
        ],
        out: Annotated[Path | None, typer.Option(help="output folder (default: results/reports/<name of PATH>/)")] = None,
        title: Annotated[str | None, typer.Option(help="page title (default: ncusim report: <name of PATH>)")] = None,
        max_transcripts: Annotated[int, typer.Option(min=0, help="transcripts embedded in the page (every dialogue keeps its row)")] = (
            MAX_TRANSCRIPTS
        ),
    ) -> None:
        """Write one self-contained HTML page: score tables with spreads, plots and a transcript viewer."""
        from shared.analysis.report import generate
        from shared.paths import results_dir

        target = out if out is not None else results_dir() / "reports" / (path.resolve().name or "root")
        result = generate(path, target, title=title, max_transcripts=max_transcripts)
        typer.echo(
            f"{result.path} ({result.size_bytes / 1e6:.1f} MB): {result.dialogues} dialogues "
            f"({', '.join(result.environments)}), {result.experiments} experiments, {result.ungradable} not gradable, "
            f"{result.transcripts} transcripts embedded"
        )
