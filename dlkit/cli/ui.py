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
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="The experiment whose runs page to print (default: the latest run's)."),
    ] = None,
    open_page: Annotated[
        bool, typer.Option("--open", help="Open the experiment's runs page in the default browser.")
    ] = False,
) -> None:
    """Start the MLflow UI, wait until it answers, print its address and the experiment's runs page; Ctrl-C stops
    it and every process it started."""
    from dlkit.tracking.server import MlflowUI, experiment_page
    from dlkit.tracking.store import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, None)
    server = MlflowUI(uri, host, port)  # checks the store is there and readable
    page = experiment_page(uri, experiment)  # a wrong --experiment: refused before the server starts
    try:
        with server:
            server.wait_ready(timeout)
            if server.everywhere:
                typer.echo(
                    f"warning: --host {host} listens on every network interface: anyone who can reach port {port} "
                    "can read and change these runs (the MLflow UI has no login)"
                )
            typer.echo(f"MLflow UI on {' and '.join(server.addresses)} for {uri} (Ctrl-C stops it)")
            if page is not None:
                name, path = page
                address = server.url + path
                typer.echo(f"runs of experiment '{name}': {address}")
                if open_page:
                    import webbrowser

                    webbrowser.open(address)
            server.wait()
    except KeyboardInterrupt:
        typer.echo("MLflow UI stopped")
