"""`dlkit tune RECIPE [key=value ...]`: search the recipe's `tune.space` with Optuna."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlkit.cli.common import OVERRIDES_HELP
from dlkit.cli.from_data import ITEM_HELP, TARGET_HELP, TEXT_HELP, TIME_HELP, USER_HELP, recipe_for
from dlkit.process import heavy_importing


def tune(
    recipe: Annotated[
        str,
        typer.Argument(
            help="A bundled recipe name, a path to a YAML file with a tune section, or a data file with --target."
        ),
    ],
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
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", min=1, help="Worker processes on this machine, sharing the study and the cores."),
    ] = 1,
    export: Annotated[Path | None, typer.Option("--export", help="Write the best trial's recipe to this file.")] = None,
    pick: Annotated[
        str,
        typer.Option(
            "--pick",
            help="Which trial is 'best': best (first metric) or, for multi-objective searches, "
            "smallest-within:D (best on the other metrics within D of the best first metric).",
        ),
    ] = "best",
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="A live table of the trials, time left and best so far (default: on a terminal).",
        ),
    ] = None,
    worker_of: Annotated[str | None, typer.Option("--worker-of", hidden=True)] = None,
    worker_index: Annotated[int, typer.Option("--worker-index", hidden=True)] = 0,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI.")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment.")] = None,
    target: Annotated[str | None, typer.Option("--target", help=TARGET_HELP)] = None,
    time: Annotated[str | None, typer.Option("--time", help=TIME_HELP)] = None,
    text: Annotated[str | None, typer.Option("--text", help=TEXT_HELP)] = None,
    user: Annotated[str | None, typer.Option("--user", help=USER_HELP)] = None,
    item: Annotated[str | None, typer.Option("--item", help=ITEM_HELP)] = None,
) -> None:
    """Search hyperparameters with Optuna: a parent MLflow run per study, a child run per trial."""
    import sys

    from dlkit.cli.common import console

    resolved = recipe_for(recipe, overrides or [], target, time, text, user, item)
    if worker_of is None:
        if resolved.tune is None:  # before any worker starts or heavy library loads
            from dlkit.errors import BadInput

            raise BadInput(
                f"recipe {resolved.name}: no tune section to search",
                hint="add tune.space (see `dlkit recipes show digits-cnn`)",
            )
        _check_outputs(storage, export)
        _check_jobs(jobs)
    workers = None
    if jobs > 1 and worker_of is None and resolved.tune is not None:
        # the other workers start now and import torch, Lightning and Optuna while this process does
        from dlkit.tuning.workers import Workers

        workers = Workers(resolved, jobs, storage=storage, study=study, trials=trials, tracking_uri=tracking_uri,
                          experiment=experiment, timeout=timeout)  # fmt: skip
    try:
        with heavy_importing():
            from dlkit.tuning.display import top_trials_table
            from dlkit.tuning.study import tune as run_study

        interactive = sys.stdout.isatty() if progress is None else progress
        result = run_study(
            resolved,
            trials=trials,
            timeout=timeout,
            storage=storage,
            study_name=study,
            tracking_uri=tracking_uri,
            experiment=experiment,
            export=export,
            pick=pick,
            jobs=jobs,
            worker_of=worker_of,
            worker_index=worker_index,
            workers=workers,
            progress=interactive and worker_of is None,
            say=typer.echo,
        )
    finally:
        if workers is not None:
            workers.stop()
    cfg = resolved.tune
    if worker_of is None and result.best_recipe is not None and cfg is not None:
        console().print(top_trials_table(result.study, [m for m, _ in cfg.objectives], [d for _, d in cfg.objectives]))
        train_from = recipe if all(o is None for o in (target, time, text, user, item)) else None
        _closing(result, train_from, overrides or [], storage, export, tracking_uri)


def _closing(
    result: Any, recipe: str | None, given: list[str], storage: str | None, export: Path | None, uri: str | None
) -> None:
    """Where the study is, its best trial and parent run, and the commands that come next."""
    import shlex

    from dlkit.cli.common import console
    from dlkit.tuning.display import counts
    from dlkit.tuning.journal import DEFAULT_JOURNAL

    out = console()
    name = result.study.study_name
    place = storage or DEFAULT_JOURNAL
    c = counts(result.study)
    out.print(f"study      {name} in {place}: {c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed",
              markup=False, soft_wrap=True)  # fmt: skip
    out.print(f"parent run {result.parent_run_id} (its artifacts: best-recipe.yaml, trials.csv, figures)", markup=False)
    store = f" --tracking-uri {shlex.quote(uri)}" if uri else ""
    if export is not None:
        again = f"dlkit train {shlex.quote(str(export))}"
    elif recipe is not None:
        best = [f"{k}={_yaml(v)}" for k, v in result.best_params.items()]
        overrides = " ".join(shlex.quote(o) for o in [*given, *best])
        again = f"dlkit train {shlex.quote(recipe)} {overrides}"
    else:
        again = "dlkit tune ... --export best.yaml, then dlkit train best.yaml"
    journal = "" if "://" in place else f"\n           optuna-dashboard {shlex.quote(place)}"
    out.print(f"next       {again}\n           dlkit report {shlex.quote(name)}{store}{journal}", markup=False,
              soft_wrap=True)  # fmt: skip


def _yaml(value: Any) -> str:
    """An override value as YAML reads it back: lists and numbers as written, strings bare."""
    import json

    return json.dumps(value, separators=(",", ":")) if isinstance(value, list | dict | bool) else str(value)


def studies(
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage", help="Optuna storage: a journal file (default ./optuna-studies.journal) or an RDB URL."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the studies as JSON (a list).")] = False,
) -> None:
    """List the studies in an Optuna storage: trial counts by state and the best value."""
    from rich.table import Table

    from dlkit.cli.common import cell, console, to_json

    with heavy_importing():
        from dlkit.tuning.study import DEFAULT_JOURNAL, summaries

    rows = summaries(storage)
    if as_json:
        typer.echo(to_json(rows))
        return
    if not rows:
        typer.echo(f"no studies in {storage or DEFAULT_JOURNAL}")
        return
    table = Table(title=cell(f"studies in {storage or DEFAULT_JOURNAL}"))
    for column in ("study", "metrics", "complete", "pruned", "failed", "running", "best", "started"):
        table.add_column(column, justify="right" if column in ("complete", "pruned", "failed", "running") else "left")
    for row in rows:
        started = row["started"].strftime("%Y-%m-%d %H:%M") if row["started"] else ""
        table.add_row(
            cell(row["study"]),
            ", ".join(f"{m} ({d[:3]})" for m, d in zip(row["metrics"], row["directions"], strict=False)),
            *(str(row[k]) for k in ("complete", "pruned", "failed", "running")),
            row["best"],
            started,
        )
    console().print(table)


def _check_outputs(storage: str | None, export: Path | None) -> None:
    """The journal and the exported recipe can be written: checked before any worker or run starts."""
    from dlkit.atomic import check_writable
    from dlkit.tuning.journal import DEFAULT_JOURNAL, check_journal

    if not storage or "://" not in storage:
        check_journal(Path(storage or DEFAULT_JOURNAL).resolve())
    if export is not None:
        check_writable(export, "--export")


def _check_jobs(jobs: int) -> None:
    """One worker per core at most: each imports torch and trains, and more of them only share the same cores.
    A study spreads over machines by starting `dlkit tune` on each (see --storage)."""
    import os

    from dlkit.errors import BadInput

    cores = os.cpu_count() or 1
    if jobs > cores:
        raise BadInput(
            f"--jobs {jobs}: this machine has {cores} core(s); each worker needs one",
            hint="to use more machines, run dlkit tune on each with one --storage postgresql://... URL",
        )
