"""`tune()`: an Optuna study over a recipe's search space, one MLflow child run per trial.

The study lives in an Optuna storage (a journal file in the working directory by
default, or any RDB URL), so re-running the same command continues it; the trial
budget counts complete and pruned trials across restarts and workers. Trials run
through Optuna's ask-and-tell interface so that each worker can claim a trial, keep
its heartbeat, recover trials of dead workers and stop exactly at the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from dlkit.errors import BadInput
from dlkit.process import heavy_imports
from dlkit.recipe.schema import Recipe
from dlkit.recipe.search_space import TuneConfig
from dlkit.tracking.mlflow_run import MlflowRun
from dlkit.tracking.store import resolve_tracking_uri
from dlkit.tuning import display, liveness
from dlkit.tuning.report import TuneResult, finish
from dlkit.tuning.selection import parse_pick
from dlkit.tuning.space import with_values
from dlkit.tuning.study_setup import DEFAULT_JOURNAL, open_study, storage_for
from dlkit.tuning.trials import FINISHED, Session, work
from dlkit.tuning.workers import Workers, threads_per_worker, wait_for_handover

__all__ = ["DEFAULT_JOURNAL", "TuneResult", "summaries", "tune"]


def tune(
    recipe: Recipe,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    export: Path | None = None,
    pick: str = "best",
    jobs: int = 1,
    worker_of: str | None = None,
    worker_index: int = 0,
    workers: Workers | None = None,
    progress: bool = False,
    say: Callable[[str], None] = print,
) -> TuneResult:
    """Run (or continue) the study until it holds the trial budget, recording every trial in MLflow.

    With `jobs` > 1, `jobs - 1` worker processes join this one on the same storage, each with an
    equal share of the cores (`workers`: already started by the caller, see dlkit.tuning.workers).
    `worker_of` makes this process such a worker: its trials become children of that parent run
    (or of the one handed over through `file:PATH`), and the process that started it reports the
    results.
    """
    cfg: TuneConfig | None = recipe.tune
    if cfg is None:
        raise BadInput(
            f"recipe {recipe.name}: no tune section to search",
            hint="add tune.space (see `dlkit recipes show digits-cnn`)",
        )
    if jobs < 1:
        raise BadInput(f"--jobs must be at least 1, not {jobs}")
    tolerance = parse_pick(pick, cfg.multi)
    heavy_imports()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budget = trials or cfg.trials
    metrics = [m for m, _ in cfg.objectives]
    store, store_name = storage_for(storage)
    name = study_name or recipe.name
    study = open_study(store, name, recipe, cfg, store_name, worker_index)
    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    stale = getattr(store, "heartbeat_stale_trial_callback", None)
    if isinstance(stale, liveness.Stale):  # Optuna calls it for the trials it finds without a heartbeat
        stale.tracking_uri, stale.say = uri, say
    exp = experiment or recipe.tracking.experiment
    deadline = time.time() + timeout if timeout else None

    def session(run_recipe: Recipe, parent_run_id: str, tell: Callable[[str], None]) -> Session:
        return Session(study, cfg, run_recipe, budget, deadline, parent_run_id, uri, exp, name, tell)

    if worker_of is not None:
        parent_run_id = wait_for_handover(worker_of)
        if parent_run_id is not None:
            work(session(recipe, parent_run_id, say))
        return TuneResult(study, parent_run_id or "", None, {}, None)

    run_recipe = recipe
    if jobs > 1:
        run_recipe = with_values(recipe, {"trainer.num_threads": threads_per_worker(recipe, jobs)})
    parent = MlflowRun(
        uri,
        exp,
        f"{name}-study",
        {
            "dlkit.study": name,
            "dlkit.storage": store_name,
            "dlkit.sampler": cfg.sampler,
            "dlkit.pruner": cfg.effective_pruner,
            "dlkit.metric": ", ".join(metrics),
            "dlkit.directions": ", ".join(d for _, d in cfg.objectives),
            "dlkit.recipe": recipe.name,
        },
        reuse_tags=("dlkit.study", "dlkit.storage"),  # one parent run per study: a restart continues it
    )
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    say(
        f"study '{name}' in {store_name}: {done} of {budget} trials done; "
        f"{jobs} worker{'s' if jobs > 1 else ''}; MLflow parent run {parent.run_id}"
    )
    with parent:
        own = session(run_recipe, parent.run_id, (lambda _: None) if progress else say)
        if jobs > 1 and workers is None:
            workers = Workers(recipe, jobs, storage=storage, study=study_name, trials=trials,
                              tracking_uri=tracking_uri, experiment=experiment, timeout=timeout)  # fmt: skip
        try:
            with display.Progress(study, budget, metrics, progress, say if jobs > 1 else lambda _: None):
                if workers is not None and done < budget:
                    workers.hand_over(parent.run_id)
                elif workers is not None:  # a full study (a finished search run again): nothing to wait for
                    workers.release()
                work(own)
                if workers is not None:
                    for problem in workers.wait():
                        say(problem)
        finally:
            if workers is not None:
                workers.stop()  # nothing left running after a normal end; after an error, stops them
        return finish(study, recipe, cfg, parent, export, tolerance, say)


def summaries(url: str | None) -> list[dict[str, Any]]:
    """Every study in a storage: name, directions, trial counts by state, best value or Pareto front size."""
    if (not url or "://" not in url) and not Path(url or DEFAULT_JOURNAL).exists():
        return []
    store, _ = storage_for(url)
    rows = []
    for summary in optuna.get_all_study_summaries(store, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=store)
        rows.append(
            {
                "study": summary.study_name,
                "directions": [d.name.lower() for d in study.directions],
                **display.counts(study),
                "metrics": study.user_attrs.get("dlkit.metrics", []),
                "best": display.best_text(study, study.user_attrs.get("dlkit.metrics") or ["value"], short=True),
                "started": summary.datetime_start,
            }
        )
    return rows
