"""`dlkit explain RUN --input FILE`: captum attributions of a run's predictions, logged to the run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlkit.cli.predict import RUN_HELP, TRACKING_HELP
from dlkit.process import heavy_importing


def explain(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    input: Annotated[Path, typer.Option("--input", "-i", help="Inputs to explain, in the run's training format.")],
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="integrated_gradients, saliency, input_x_gradient, deeplift or gradient_shap "
            "(text: integrated_gradients or gradient_shap).",
        ),
    ] = "integrated_gradients",
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="Class to explain (default: each sample's predicted class); with several targets, a target "
            "column or COLUMN=CLASS (default: the first target).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Explain at most this many samples.")] = 200,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder for the figures (default ./explain-<run>).")
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
) -> None:
    """Heatmaps over images, feature attributions for tables (bar chart and CSV), token attributions for text (HTML)."""
    from dlkit.atomic import check_writable

    if output is not None:
        check_writable(output, "--output", folder=True)
    with heavy_importing():
        from dlkit.serving.explain import explain as run_explain

    result = run_explain(
        run, input, method=method, target=target, limit=limit, output=output, tracking_uri=tracking_uri, say=typer.echo
    )
    for path in result.files:
        typer.echo(f"wrote {path}")
