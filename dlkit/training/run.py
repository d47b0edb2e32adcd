"""`run()`: the one path from a validated recipe to a finished, tracked MLflow run.

`run_cv()` repeats it over k folds under a parent run that holds the mean and standard deviation
of every test metric; `dlkit.training.resume` continues a killed run.
"""

from __future__ import annotations

import time

import numpy as np

from dlkit.errors import BadInput
from dlkit.process import heavy_imports
from dlkit.recipe.schema import Recipe
from dlkit.tracking.mlflow_run import MlflowRun, flatten
from dlkit.tracking.store import resolve_tracking_uri
from dlkit.training.fit import fit
from dlkit.training.prepare import prepare
from dlkit.training.records import recipe_tags
from dlkit.training.result import Nested, RunResult, Say

__all__ = ["Nested", "RunResult", "run", "run_cv"]


def run(
    recipe: Recipe,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    say: Say = print,
    progress_bar: bool | None = None,
    nested: Nested | None = None,
    run_name: str | None = None,
) -> RunResult:
    """Fit, test and record one recipe. Bad input raises before any MLflow run exists.

    `run_name`: the run's name unless the recipe sets tracking.run_name (default: the recipe's name); a
    top-level run's name gets a `-2`, `-3`, ... suffix when the experiment has a run of that name.

    `nested` makes the run a child of another (a fold, a tuning trial), with extra callbacks
    and exceptions that end the run as FINISHED instead of FAILED (a pruned trial).
    """
    heavy_imports()
    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    prepared = prepare(recipe, None, uri, served=nested is None)
    experiment = experiment or recipe.tracking.experiment
    return fit(recipe, prepared, uri, experiment, say, progress_bar, nested, run_name=run_name)


def run_cv(
    recipe: Recipe,
    folds: int,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    say: Say = print,
    progress_bar: bool | None = None,
    run_name: str | None = None,
) -> RunResult:
    """k-fold cross-validation: a parent run with one child run per fold; mean and std of every test metric."""
    heavy_imports()
    if folds < 2:
        raise BadInput(f"--folds must be at least 2, not {folds}")
    started = time.perf_counter()
    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    first = prepare(recipe, (0, folds), uri)  # data errors (too few samples per class, ...) before any run
    name = experiment or recipe.tracking.experiment
    tags = {**recipe_tags(recipe), "dlkit.folds": str(folds)}
    title = f"{recipe.tracking.run_name or run_name or recipe.name} cv{folds}"
    parent = MlflowRun(uri, name, title, tags, unique_name=True)
    children: list[RunResult] = []
    with parent:
        parent.log_params({**flatten(recipe.model_dump(mode="json")), "cv.folds": str(folds)})
        say(f"cross-validation run {parent.run_id}: {folds} folds in experiment '{name}' ({uri})")
        for i in range(folds):
            say(f"fold {i + 1}/{folds}")
            prepared = first if i == 0 else prepare(recipe, (i, folds), uri)
            nested = Nested(parent.run_id, f"fold-{i + 1}/{folds}", {"dlkit.fold": str(i)})
            children.append(fit(recipe, prepared, uri, name, say, progress_bar, nested))
        summary: dict[str, float] = {}
        for key in sorted(children[0].test_metrics):
            values = np.asarray([c.test_metrics[key] for c in children if key in c.test_metrics], dtype=np.float64)
            summary[f"cv/{key}_mean"] = float(values.mean())
            summary[f"cv/{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        parent.log_metrics(summary, step=0)
    return RunResult(
        parent.run_id,
        parent.experiment_id,
        uri,
        summary,
        seconds=time.perf_counter() - started,
        children=children,
        recipe=recipe,
    )
