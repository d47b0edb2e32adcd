"""`dlkit ui`: the MLflow UI on the store dlkit writes to, started, awaited and stopped as one process tree."""

from __future__ import annotations

from typing import Annotated

import typer

from dlkit.cli.predict import TRACKING_HELP


def ui(
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = 5000,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; the default keeps the UI on this machine.")
    ] = "127.0.0.1",
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the UI to answer.")] = 60,
) -> None:
    """Start the MLflow UI, wait until it answers, print its address; Ctrl-C stops it and every process it started."""
    from dlkit.tracking.server import MlflowUI
    from dlkit.tracking.store import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, None)
    try:
        with MlflowUI(uri, host, port) as server:
            server.wait_ready(timeout)
            if server.everywhere:
                typer.echo(
                    f"warning: --host {host} listens on every network interface: anyone who can reach port {port} "
                    "can read and change these runs (the MLflow UI has no login)"
                )
            typer.echo(f"MLflow UI on {' and '.join(server.addresses)} for {uri} (Ctrl-C stops it)")
            server.wait()
    except KeyboardInterrupt:
        typer.echo("MLflow UI stopped")
