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
