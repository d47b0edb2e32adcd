"""`dlkit train RECIPE [key=value ...]`: fit a recipe and record the run in MLflow."""

from __future__ import annotations

from typing import Annotated

import typer

from dlkit.cli.common import OVERRIDES_HELP
from dlkit.cli.from_data import ITEM_HELP, TARGET_HELP, TEXT_HELP, TIME_HELP, USER_HELP, recipe_for
from dlkit.process import heavy_importing


def train(
    recipe: Annotated[
        str | None,
        typer.Argument(
            help="A bundled recipe name (dlkit recipes ls), a path to a YAML file, or a data file or image folder "
            "(with --target: the recipe is inferred from the data).",
            show_default=False,
        ),
    ] = None,
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP, show_default=False)] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."
        ),
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="MLflow experiment (default: the recipe's tracking.experiment).")
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option("--folds", min=2, help="k-fold cross-validation: a parent run with one child run per fold."),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="One live line: epoch, steps, time left, best validation metric (default: on a terminal).",
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume", help="Continue this killed or crashed run from its last checkpoint (same MLflow run)."
        ),
    ] = None,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Register the run's MLflow model under this name in the model registry."),
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help=TARGET_HELP)] = None,
    time: Annotated[str | None, typer.Option("--time", help=TIME_HELP)] = None,
    text: Annotated[str | None, typer.Option("--text", help=TEXT_HELP)] = None,
    user: Annotated[str | None, typer.Option("--user", help=USER_HELP)] = None,
    item: Annotated[str | None, typer.Option("--item", help=ITEM_HELP)] = None,
) -> None:
    """Train a recipe with Lightning, test the best checkpoint and record everything in MLflow.

    Given a data file (CSV, TSV, Parquet, .npz) or an image folder instead of a recipe, dlkit infers the
    recipe from the data: `dlkit train data.csv --target price`, `dlkit train sales.csv --target units
    --time date`. `dlkit init` writes that recipe out for editing.
    """
    from dlkit.errors import BadInput

    if resume is not None:
        if recipe is not None or overrides or folds:
            raise BadInput("--resume takes no recipe, overrides or --folds: the run's checkpoint holds its recipe")
        from dlkit.cli.summary import print_summary

        with heavy_importing():
            from dlkit.training.resume import resume as resume_run

        result = resume_run(resume, tracking_uri=tracking_uri, say=typer.echo, progress_bar=progress)
        if result.recipe is not None:  # always set by a run that trained
            print_summary(result.recipe, result)
        return
    if recipe is None:
        raise BadInput("give a recipe (dlkit recipes ls), a data file with --target, or --resume RUN_ID")
    resolved = recipe_for(recipe, overrides or [], target, time, text, user, item)
    from dlkit.cli.summary import print_cv_summary, print_summary
    from dlkit.errors import BadInput

    with heavy_importing():
        from dlkit.training.run import run, run_cv

    if register is not None and (folds or not resolved.tracking.log_model):
        raise BadInput("--register needs one run with tracking.log_model: true (not --folds)")
    from dlkit.cli.common import is_worker_rank
    from dlkit.tracking.run_names import readable

    options = {
        "tracking_uri": tracking_uri,
        "experiment": experiment,
        "progress_bar": progress,
        "say": typer.echo,
        "run_name": readable(resolved.name, overrides or []),
    }
    if is_worker_rank():  # a distributed run's other ranks: rank 0 reports for them
        quiet = {**options, "say": lambda _: None, "progress_bar": False}
        run_cv(resolved, folds, **quiet) if folds else run(resolved, **quiet)  # type: ignore[arg-type]
        return
    if folds:
        print_cv_summary(resolved, run_cv(resolved, folds, **options))  # type: ignore[arg-type]
        return
    result = run(resolved, **options)  # type: ignore[arg-type]
    print_summary(resolved, result)
    if register is not None and result.run_id:
        from dlkit.tracking.model_registry import register_model

        version = register_model(result.tracking_uri, result.run_id, register)
        typer.echo(f"registered model '{register}' version {version} (models:/{register}/{version})")
