"""`ncusim`: the kit's command line. Every failure meant for the user is one line and exit code 2."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shared import __version__
from shared.errors import ConfigError, NcusimError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="ncusim: non-collaborative user simulators for tool agents (reproducibility kit).",
)


class EnvChoice(StrEnum):
    all = "all"
    multiwoz = "multiwoz"
    tau = "tau"


@app.command()
def version() -> None:
    """Print the kit version."""
    typer.echo(__version__)


@app.command()
def data(
    env: Annotated[EnvChoice, typer.Option(help="which environment's files")] = EnvChoice.all,
    reference: Annotated[bool, typer.Option(help="fetch the reference dialogue folders (used by tests) instead")] = False,
    mirror: Annotated[str | None, typer.Option(help="copy from <dir>/NCUser/<path> (default: NCUSIM_DATA_MIRROR)")] = None,
    base_url: Annotated[str | None, typer.Option(help="download base URL (default: NCUSIM_DATA_URL, else raw GitHub)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="parallel downloads")] = 16,
) -> None:
    """Fetch the upstream data at the pinned commit and verify every file by SHA-256."""
    from shared import data as d

    envs = list(d.ENVIRONMENTS) if env is EnvChoice.all else [env.value]
    if reference and env is EnvChoice.tau:
        raise ConfigError("reference dialogue folders exist for multiwoz only")
    if reference:
        envs = ["multiwoz"]
    entries = d.entries_for(envs, reference=reference)
    source = d.make_source(mirror, base_url)
    label = "reference folders" if reference else "+".join(envs)
    try:
        report = d.fetch(entries, source, workers=workers, on_progress=d.progress_printer(label))
    finally:
        source.close()
    typer.echo(f"{label}: {report.summary()} (source: {source.description})")


class EnvName(StrEnum):
    multiwoz = "multiwoz"
    tau = "tau"


@app.command()
def score(
    path: Annotated[Path, typer.Argument(help="a dialogue folder or any folder above dialogue folders")],
    env: Annotated[EnvName, typer.Option(help="the environment the folders belong to")],
    regrade: Annotated[bool, typer.Option(help="re-grade every folder from its own files (writes only the grade files)")] = False,
    strict_taxi_time: Annotated[bool, typer.Option(help="multiwoz: also check the taxi time in the three-domain case")] = False,
    fix_apostrophe_names: Annotated[bool, typer.Option(help="multiwoz: ignore apostrophes in booked names (PMUL4756)")] = False,
) -> None:
    """Print the score block of every experiment folder under PATH (success, pass, goal-align per run)."""
    from shared import environment, scoring

    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder")
    options = {}
    if env is EnvName.multiwoz:
        options = {"strict_taxi_time": strict_taxi_time, "fix_apostrophe_names": fix_apostrophe_names}
    elif strict_taxi_time or fix_apostrophe_names:
        raise ConfigError("--strict-taxi-time and --fix-apostrophe-names apply to multiwoz only")
    environment_ = environment.get(env.value, **options)
    started = time.monotonic()
    tree = scoring.score_tree(environment_, path, regrade=regrade)
    if not tree.graded and not tree.failures:
        raise ConfigError(f"no {env.value} dialogue folders under {path}")
    for folder, block in tree.blocks.items():
        typer.echo(f"Result of {folder}")
        for line in block.lines():
            typer.echo(line)
        typer.echo("")
    verb = "re-graded" if regrade else "scored"
    typer.echo(f"{verb} {tree.graded} dialogue folders in {time.monotonic() - started:.1f}s; {len(tree.failures)} could not be graded")
    for folder, reason in tree.failures:
        typer.echo(f"ncusim: error: {folder}: {reason}", err=True)
    if tree.failures:
        raise typer.Exit(2)


@app.command("prepare-local")
def prepare_local() -> None:
    """Convert the embedded default model once and print its folder (used by `make serve-local`)."""
    from shared.llm.embedded import ensure_embedded_model

    typer.echo(str(ensure_embedded_model()))


@app.command()
def chat(
    prompt: Annotated[str, typer.Argument(help="the user message")],
    model: Annotated[str, typer.Option(help="model spec, e.g. local, openai:gpt-4.1-mini, http://127.0.0.1:8000/v1#name")] = "local",
    system: Annotated[str | None, typer.Option(help="optional system message")] = None,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 0.0,
    max_tokens: Annotated[int, typer.Option(min=1)] = 256,
) -> None:
    """Send one message to a model: a quick check that a spec, key and endpoint work."""
    from shared.llm import DEFAULT_LEDGER, resolve

    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    chat_model = resolve(model)
    result = asyncio.run(chat_model.chat(messages, temperature=temperature, max_tokens=max_tokens, role="agent"))
    typer.echo(result.text)
    typer.echo(json.dumps({"model": model, "usage": DEFAULT_LEDGER.to_dict()["total"]}), err=True)


def main() -> None:
    """Console entry: usage errors are typer's (exit 2); the kit's own errors are one line (exit 2)."""
    try:
        app()
    except NcusimError as exc:
        typer.echo(f"ncusim: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("ncusim: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
