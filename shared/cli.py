"""`ncusim`: the kit's command line. Every failure meant for the user is one line and exit code 2."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from shared import __version__, defaults, environment
from shared.analysis.cli import register as _register_analysis
from shared.analysis.report_cli import register as _register_report
from shared.cli_options import env_option, environment_lines, grader_fix_options
from shared.cost_estimate import CONFIRM_ABOVE
from shared.errors import ConfigError, NcusimError, one_line, printable
from shared.serving_cli import register as _register_serving
from shared.training.cli import register as _register_training
from shared.writer_lock import ensure_no_writer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="ncusim: non-collaborative user simulators for tool agents (reproducibility kit).",
)


@app.command()
def version() -> None:
    """Print the kit version."""
    typer.echo(__version__)


@app.command()
def data(
    env: Annotated[str, env_option("which environment's files", with_all=True)] = "all",
    reference: Annotated[bool, typer.Option(help="fetch the reference dialogue folders (used by tests) instead")] = False,
    mirror: Annotated[str | None, typer.Option(help="copy from <dir>/NCUser/<path> (default: NCUSIM_DATA_MIRROR)")] = None,
    base_url: Annotated[str | None, typer.Option(help="download base URL (default: NCUSIM_DATA_URL, else raw GitHub)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="parallel downloads")] = 16,
) -> None:
    """Fetch the upstream data at the pinned commit and verify every file by SHA-256."""
    from shared import data as d

    if env != "all" and env not in d.environments():
        typer.echo(f"{env}: brings its own data (no upstream manifest): nothing to fetch")
        return
    envs = d.environments() if env == "all" else [env]
    if reference:
        having = [e for e in d.environments() if d.load_manifest(e).reference]
        if env != "all" and env not in having:
            raise ConfigError(f"reference dialogue folders exist for {', '.join(having)} only")
        envs = having
    entries = d.entries_for(envs, reference=reference)
    source = d.make_source(mirror, base_url)
    label = "reference folders" if reference else "+".join(envs)
    try:
        report = d.fetch(entries, source, workers=workers, on_progress=d.progress_printer(label))
    finally:
        source.close()
    typer.echo(f"{label}: {report.summary()} (source: {source.description})")


@app.command()
def score(
    path: Annotated[Path, typer.Argument(help="a dialogue folder or any folder above dialogue folders")],
    env: Annotated[str, env_option("the environment the folders belong to")],
    regrade: Annotated[bool, typer.Option(help="re-grade every folder from its own files (writes only the grade files)")] = False,
    grader_fix: Annotated[
        list[str] | None,
        typer.Option(help="turn on a fix of a grader defect the environment offers (`ncusim environments` lists them); repeatable"),
    ] = None,
) -> None:
    """Print the score block of every experiment folder under PATH (success, pass, goal-align per run)."""
    from shared import scoring

    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder")
    environment_ = environment.get(env, **grader_fix_options(env, grader_fix or []))
    started = time.monotonic()
    if regrade:
        ensure_no_writer(path)
    tree = scoring.score_tree(environment_, path, regrade=regrade)
    if not tree.graded and not tree.failures:
        raise ConfigError(f"no {env} dialogue folders under {path}")
    for folder, block in tree.blocks.items():
        typer.echo(printable(f"Result of {folder}"))
        for line in block.lines():
            typer.echo(printable(line))
        typer.echo("")
    verb = "re-graded" if regrade else "scored"
    typer.echo(f"{verb} {tree.graded} dialogue folders in {time.monotonic() - started:.1f}s; {len(tree.failures)} could not be graded")
    if tree.links:
        typer.echo(scoring.skipped_links_line(tree.links))
    for folder, reason in tree.failures:
        typer.echo(printable(f"ncusim: error: {folder}: {reason}"), err=True)
    if tree.failures:
        raise typer.Exit(2)


def _behavior(text: str, pbus: bool) -> Any:
    """A behaviour name (`tangential+impatience`) or one of the paper's YAML files (non_coll_*.yaml)."""
    from shared.usersim import Behaviors

    if text.endswith((".yaml", ".yml")):
        loaded = Behaviors.from_yaml(text)
        return dataclasses.replace(loaded, is_pbus=loaded.is_pbus or pbus)
    return Behaviors.parse(text, pbus=pbus)


def _split_list(value: str) -> list[str]:
    return [part for chunk in value.replace(",", " ").split() if (part := chunk.strip())]


MAX_STEPS_LIMIT = 1000  # agent steps per dialogue: far above the paper's 30, far below a runaway


def _env_options(env: str, max_steps: int | None, domains: str | None) -> dict[str, Any]:
    if max_steps is not None and not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise ConfigError(f"--max-steps must be between 1 and {MAX_STEPS_LIMIT}, not {max_steps} (the paper: 30)")
    options: dict[str, Any] = {"max_steps": max_steps} if max_steps is not None else {}
    if domains:
        chosen_env = environment.get(env)
        selectable = chosen_env.selectable_domains
        if not selectable:
            having = [n for n in environment.names() if environment.get(n).selectable_domains]
            raise ConfigError(f"--domains applies to {', '.join(having)} only ({chosen_env.title} scenarios choose their own domains)")
        chosen = _split_list(domains)
        unknown = sorted(set(chosen) - set(selectable))
        if unknown or not chosen:
            raise ConfigError(f"unknown {chosen_env.title} domain(s) {', '.join(unknown) or repr(domains)}: choose {', '.join(selectable)}")
        options["domains"] = tuple(dict.fromkeys(chosen))
    return options


def _unique_ids(text: str) -> list[str]:
    """Scenario ids, each once: an id given twice would run twice at once into one folder."""
    ids = _split_list(text)
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        typer.echo(f"note: {', '.join(repeated)} listed more than once: each runs once", err=True)
    return list(dict.fromkeys(ids))


def confirm_cost(run: Any, yes: bool, always_show: bool) -> None:
    """A plan of more than CONFIRM_ABOVE dialogues prints its estimate and asks before it spends."""
    cost = run.cost_estimate()
    if cost.dialogues <= CONFIRM_ABOVE and not always_show:
        return
    for line in cost.lines():
        typer.echo(line)
    if always_show or yes or cost.total_dollars == 0:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{cost.dialogues:,} dialogues to run (estimated ${cost.total_dollars:,.2f}): rerun with --yes (make: YES=1)")
    if not typer.confirm("Run it?", default=False):
        raise typer.Exit(1)


@app.command()
def simulate(
    env: Annotated[str, env_option("the environment")] = environment.DEFAULT,
    models: Annotated[str | None, typer.Option(help="agent model specs, space or comma separated (default gpt-4.1-nano)")] = None,
    behaviors: Annotated[
        str, typer.Option(help="comma-separated behaviours; '+' combines (tangential+impatience); or the paper's YAML files")
    ] = "normal",
    n: Annotated[int, typer.Option(help="simulations per scenario")] = defaults.N,
    subset: Annotated[int, typer.Option(help="the environment's per-shard cap (the original's O); 0 = every test scenario")] = 0,
    split: Annotated[str, typer.Option(help="test or train")] = "test",
    scenarios: Annotated[str | None, typer.Option(help="scenario ids, comma separated (e.g. PMUL0095,PMUL0410)")] = None,
    limit: Annotated[int | None, typer.Option(help="take the first k scenarios of the selection")] = None,
    user_model: Annotated[
        str | None, typer.Option(help="the user and the calls the paper ran on gpt-4.1-mini (default: the paper's models)")
    ] = None,
    helper_model: Annotated[
        str | None,
        typer.Option(
            help="the calls the paper ran on gpt-4o-mini: outburst, tangent, complaints, cynical, pbus_topic (default gpt-4o-mini)"
        ),
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="goal-alignment judge (default gpt-4o-mini, or a self-served user model)")] = None,
    helper: Annotated[list[str] | None, typer.Option(help="per-call model override CALL=SPEC (e.g. tracker=gpt-4.1), repeatable")] = None,
    pbus: Annotated[bool, typer.Option(help="the prompt-only baseline simulator (PBUS)")] = False,
    prompts: Annotated[
        str, typer.Option(help="paper: the original's prompts, read from the pinned upstream files; ncusim: the kit's own wording")
    ] = "paper",
    agent: Annotated[
        str,
        typer.Option(
            help="paper: the paper's text protocols; tool-calling: the environment's APIs as the chat API's tools "
            "(results under <model>+tools)"
        ),
    ] = "paper",
    attempts: Annotated[
        int | None, typer.Option(help="goal-alignment regeneration attempts (default: the environment's, as the paper ran it)")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="dialogues in flight at once")] = defaults.CONCURRENCY,
    seed: Annotated[int, typer.Option(help="run seed; each dialogue's seed derives from it")] = 0,
    max_steps: Annotated[int | None, typer.Option(help="agent steps per dialogue (the paper: 30)")] = None,
    domains: Annotated[
        str | None,
        typer.Option(help="comma-separated domains of an environment that has several (`ncusim environments`); default all"),
    ] = None,
    agent_max_tokens: Annotated[
        int | None, typer.Option(help=f"cap on agent reply tokens (default: none for APIs, {defaults.LOCAL_AGENT_MAX_TOKENS} local)")
    ] = None,
    user_max_tokens: Annotated[
        int | None, typer.Option(help=f"cap on simulator reply tokens (default: none for APIs, {defaults.LOCAL_USER_MAX_TOKENS} local)")
    ] = None,
    results: Annotated[Path | None, typer.Option(help="results folder (default results/ or NCUSIM_RESULTS)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help=f"run a plan of more than {CONFIRM_ABOVE:,} dialogues without asking (YES=1)")] = False,
    estimate_only: Annotated[bool, typer.Option("--estimate", help="print the cost estimate of the plan and stop")] = False,
) -> None:
    """Simulate, grade, judge and score dialogues: models x behaviours x scenarios x N, resumable."""
    from shared import runner as r
    from shared.data import require
    from shared.llm.keys import lookup

    if models is None:
        if not lookup("OPENAI_API_KEY"):
            raise ConfigError(
                "OPENAI_API_KEY is not set: set it (or put it in .env) for the paper's setup, "
                "or run the embedded model with MODELS=local USER_MODEL=local (or `make demo`)"
            )
        models = "gpt-4.1-nano"
    if split not in ("test", "train"):
        raise ConfigError(f"unknown split {split!r}: choose test or train")
    overrides = {}
    for item in helper or []:
        call, sep, spec = item.partition("=")
        if not sep or not spec:
            raise ConfigError(f"--helper takes CALL=SPEC, not {item!r}")
        overrides[call.strip()] = spec.strip()
    from shared.usersim.models import DEFAULTS

    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown simulator call(s) {', '.join(sorted(unknown))}: choose from {', '.join(DEFAULTS)}")
    plan = r.RunPlan(
        env=env,
        models=_split_list(models),
        behaviors=[_behavior(b, pbus) for b in _split_list(behaviors.replace(" ", ""))],
        n=n,
        subset=subset,
        split=split,
        scenario_ids=_unique_ids(scenarios) if scenarios else None,
        limit=limit,
        user_model=user_model,
        helper_model=helper_model,
        judge_model=judge_model,
        helper_models=overrides,
        attempts=attempts,
        concurrency=concurrency,
        seed=seed,
        results=results,
        agent_max_tokens=agent_max_tokens,
        user_max_tokens=user_max_tokens,
        env_options=_env_options(env, max_steps, domains),
        prompts=prompts,
        agent=agent,
    )
    plan.validate()
    require(env, verify=True)  # missing or damaged data: one line before anything runs
    run = r.Runner(plan, echo=typer.echo)
    confirm_cost(run, yes, estimate_only)
    if estimate_only:
        return
    started = time.monotonic()
    blocks = asyncio.run(run.run())
    for experiment, block in blocks.items():
        typer.echo(f"Result of {experiment}")
        for line in block.lines():
            typer.echo(line)
        typer.echo("")
    for line in r.summary_lines(run, blocks):
        typer.echo(line)
    typer.echo(f"finished in {time.monotonic() - started:.1f}s; results under {plan.root}")
    if any(progress.failures for progress in run.progress.values()):
        raise typer.Exit(1)  # some dialogues failed (listed above): a script sees it; a rerun retries them


@app.command()
def bench(
    suite: Annotated[
        list[str] | None,
        typer.Option(help="harness, latency, http, economy, or an environment's suite (`ncusim environments`); repeatable (default all)"),
    ] = None,
    dialogues: Annotated[int, typer.Option(min=4, help="latency suite: dialogues per concurrency level")] = 64,
    delay: Annotated[float, typer.Option(min=0.01, help="latency suite: seconds each model call takes")] = 0.5,
    turns: Annotated[int, typer.Option(min=1, help="latency suite: user turns per dialogue")] = 8,
) -> None:
    """Benchmarks of the kit's own costs; each suite writes results/bench/<suite>.json."""
    from functools import partial

    from shared.bench_suites import bench_latency, data_needed, run_suites, suite_names
    from shared.data import require

    known = suite_names()
    chosen = suite or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ConfigError(f"unknown bench suite(s) {', '.join(unknown)}: choose {', '.join(known)}")
    for env in dict.fromkeys(e for name in chosen for e in data_needed(name)):
        require(env)
    latency = partial(bench_latency, delay=delay, dialogues=dialogues, user_turns=turns)
    run_suites(chosen, echo=typer.echo, overrides={"latency": latency})


@app.command()
def environments() -> None:
    """List the environments (built in, installed plug-ins) and what each lets you choose."""
    for line in environment_lines():
        typer.echo(printable(line))


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
    from shared.llm.base import close_models

    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    from shared.llm.preflight import check_endpoints

    chat_model = resolve(model)

    async def ask() -> Any:
        try:
            await check_endpoints([chat_model])  # a server that is not running: one line in seconds, not after every retry
            return await chat_model.chat(messages, temperature=temperature, max_tokens=max_tokens, role="agent")
        finally:
            await close_models([chat_model])

    result = asyncio.run(ask())
    typer.echo(printable(result.text))  # a model's reply may hold terminal escape sequences
    typer.echo(json.dumps({"model": model, "usage": DEFAULT_LEDGER.to_dict()["total"]}), err=True)


# serve-vllm, stop-vllm, serving-status (shared/serving_cli.py).
_register_serving(app)
# train, merge (shared/training/cli.py).
_register_training(app)
# report (shared/analysis/report_cli.py).
_register_report(app)
# analyze (shared/analysis/cli.py).
_register_analysis(app)


def _shown(message: str) -> str:
    """An error message as printed: one line, with every key value redacted and no control characters."""
    from shared.llm.keys import redact

    return printable(redact(one_line(message)))


def main() -> None:
    """Console entry: usage errors are typer's (exit 2); the kit's own errors are one line (exit 2),
    and so is a file-system error on a path the user gave (a results folder under a file, no permission)."""
    try:
        app()
    except NcusimError as exc:
        typer.echo(f"ncusim: error: {_shown(str(exc))}", err=True)
        sys.exit(2)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" writing under {Path(str(exc.filename)).parent}" if exc.filename else ""
            kept = "files written before are kept; free some space and rerun"
            typer.echo(f"ncusim: error: no space left on the device{printable(where)}: {kept}", err=True)
            sys.exit(2)
        if exc.filename is None:
            raise  # not about a path: a defect, keep its traceback
        path = Path(str(exc.filename))
        if path.name.startswith(".") and path.name.endswith(".tmp"):  # an atomic write's temp file: name its folder
            path = path.parent
        typer.echo(f"ncusim: error: cannot use {path}: {_shown(exc.strerror or str(exc))}: check the path and its permissions", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("ncusim: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
