"""`dlkit tune RECIPE [key=value ...]`: search the recipe's `tune.space` with Optuna."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlkit.cli.common import OVERRIDES_HELP


def tune(
    recipe: Annotated[str, typer.Argument(help="A bundled recipe name or a path to a YAML file with a tune section.")],
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP, show_default=False)] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials", min=1, help="Trial budget in total (complete + pruned), across restarts (default: tune.trials)."
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Stop starting new trials after this many seconds.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage: a journal file (default ./optuna-studies.journal) or an RDB URL such as postgresql://...",
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option("--study", help="Study name (default: the recipe name); the same name continues the study."),
    ] = None,
    export: Annotated[Path | None, typer.Option("--export", help="Write the best trial's recipe to this file.")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI.")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment.")] = None,
) -> None:
    """Search hyperparameters with Optuna: a parent MLflow run per study, a child run per trial."""
    from dlkit.recipe import load

    resolved = load(recipe, overrides or [])
    from dlkit.tuning.study import tune as run_study

    run_study(
        resolved,
        trials=trials,
        timeout=timeout,
        storage=storage,
        study_name=study,
        tracking_uri=tracking_uri,
        experiment=experiment,
        export=export,
        say=typer.echo,
    )
