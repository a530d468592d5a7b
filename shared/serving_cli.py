"""`ncusim serve-vllm`, `stop-vllm`, `serving-status`: the CLI face of `shared.serving` (make serve-vllm ...)."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the serving commands to the `ncusim` app."""

    @app.command("serve-vllm")
    def serve_vllm(
        model: Annotated[str, typer.Option(help="HF id or model folder to serve")],
        gpus: Annotated[str, typer.Option(help="GPU ids, comma-separated; one server per TP of them")] = "0",
        port_base: Annotated[int, typer.Option(help="port of the first server; the next ones count up")] = 8000,
        tp: Annotated[int, typer.Option(min=1, help="tensor-parallel size: GPUs per server")] = 1,
        host: Annotated[str, typer.Option(help="address the servers bind (0.0.0.0 exposes them)")] = "127.0.0.1",
        name: Annotated[str | None, typer.Option(help="served name, used as vllm:<name> (default: MODEL's last part)")] = None,
        extra: Annotated[str, typer.Option(help="more server arguments, split like a shell line")] = "",
        timeout: Annotated[float, typer.Option(min=1, help="seconds to wait for every /health")] = 900.0,
    ) -> None:
        """Start one vLLM OpenAI-compatible server per GPU group, wait until healthy, write the endpoint registry."""
        from shared import serving

        serving.serve(model, gpus, port_base, tp, host, name, extra, timeout, echo=typer.echo)

    @app.command("stop-vllm")
    def stop_vllm(
        name: Annotated[str | None, typer.Option(help="stop only this served name (default: every server started)")] = None,
        grace: Annotated[float, typer.Option(min=0, help="seconds between SIGTERM and SIGKILL")] = 20.0,
    ) -> None:
        """Stop exactly the servers serve-vllm started (servers.json) and remove them from the registry."""
        from shared import serving

        serving.stop_servers(name, grace, echo=typer.echo)

    @app.command("serving-status")
    def serving_status(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    ) -> None:
        """Show the servers serve-vllm started: name, port, GPUs, pid, alive, healthy, log."""
        from shared import serving

        rows = serving.status_rows()
        typer.echo(json.dumps(rows, indent=2) if as_json else serving.status_table(rows))
