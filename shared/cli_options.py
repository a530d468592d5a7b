"""Command-line options that several commands share (the main CLI and the analysis commands)."""

from __future__ import annotations

from typing import Any

import typer

from shared import environment
from shared.errors import ConfigError


def env_option(help: str, with_all: bool = False) -> Any:
    """`--env`, its choices taken from the environment registry; anything else is a usage error."""
    choices = [*(["all"] if with_all else []), *environment.names()]

    def check(value: str | None) -> str | None:
        if value is not None and ":" in value:  # a plug-in named on the command line: module:attr
            try:
                return environment.resolve_name(value)
            except ConfigError as exc:
                raise typer.BadParameter(str(exc)) from None
        if value is not None and value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(repr(c) for c in choices)}, or module:attr.")
        return value

    return typer.Option(help=f"{help}: {', '.join(choices)}, or a plug-in as module:attr", callback=check)


def grader_fix_options(env: str, fixes: list[str]) -> dict[str, bool]:
    """`--grader-fix NAME` values (dashes or underscores) as the environment's constructor options."""
    offered = environment.get(env).grader_fixes
    options = {}
    for fix in fixes:
        name = fix.replace("-", "_")
        if name not in offered:
            choices = ", ".join(offered) or "none"
            raise ConfigError(f"the {env} grader has no fix {fix!r} (it offers: {choices})")
        options[name] = True
    return options


def environment_lines() -> list[str]:
    """`ncusim environments`: each environment with what the commands let a user choose for it."""
    lines = []
    for name in environment.names():
        try:
            env = environment.get(name)
        except ConfigError as exc:  # an installed plug-in that cannot be imported: say so, list the rest
            lines.append(f"{name}: not available ({exc})")
            continue
        lines.append(f"{name}: {env.title}{' (default)' if name == environment.DEFAULT else ''}")
        details = {
            "domains (--domains)": ", ".join(env.selectable_domains),
            "grader fixes (score --grader-fix)": "; ".join(f"{k}: {v}" for k, v in env.grader_fixes.items()),
            "regeneration attempts": str(env.default_attempts),
            "upstream data (ncusim data)": env.data_package or "",
            "published dialogues (make fetch-results)": env.published_archive or "",
            "bench suites": ", ".join(env.bench_suites),
        }
        lines.extend(f"  {label}: {value}" for label, value in details.items() if value)
    return lines
