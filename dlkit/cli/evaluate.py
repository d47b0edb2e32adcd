"""`dlkit evaluate RUN [--data FILE] [key=value ...]`: score a finished run, recorded as a linked MLflow run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlkit.cli.predict import RUN_HELP, TRACKING_HELP
from dlkit.process import heavy_importing


def evaluate(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Overrides of the run's recipe, e.g. data.path=moved/file.csv.", show_default=False),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="A new labelled file in the training format (default: the run's test split)."),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="A column whose groups each get the metrics, positive rate and calibration, and the largest gap "
            "between them (repeat for several; default: the recipe's task.report_by).",
            show_default=False,
        ),
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Experiment of the evaluation run (default: the run's).")
    ] = None,
) -> None:
    """Metrics, confusion matrix, ROC/PR curves or residuals of a run on held-out or new data."""
    from rich.table import Table

    from dlkit import metric_names as m
    from dlkit.cli.common import console
    from dlkit.cli.summary import print_groups

    with heavy_importing():
        from dlkit.serving.evaluate import evaluate as run_evaluation

    result = run_evaluation(
        run,
        data_path=data,
        overrides=overrides or [],
        by=by or [],
        tracking_uri=tracking_uri,
        experiment=experiment,
        say=typer.echo,
    )
    table = Table(title=result.source)
    table.add_column("metric")
    table.add_column("value", justify="right")
    # per-class values are in the run's per_class_metrics table; several targets show test/<measure>/<column>
    shown = {k: v for k, v in result.metrics.items() if not m.is_per_class(k) and not m.is_by_group(k)}
    for key, value in sorted(shown.items()):
        table.add_row(key, f"{value:.4f}")
    console().print(table)
    print_groups(result.metrics)
    typer.echo(f"evaluation run {result.run_id} (tag dlkit.evaluated_run={result.evaluated_run})")
