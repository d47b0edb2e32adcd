"""`tune()`: an Optuna study over a recipe's search space, one MLflow child run per trial.

The study lives in an Optuna storage (a journal file in the working directory by
default, or any RDB URL), so re-running the same command continues it; the trial
budget counts complete and pruned trials across restarts and workers. Trials run
through Optuna's ask-and-tell interface so that each worker can claim a trial, keep
its heartbeat, recover trials of dead workers and stop exactly at the budget.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import optuna
from lightning.pytorch.callbacks import Callback
from optuna.trial import TrialState

from dlkit import metric_names
from dlkit.errors import BadInput, DlkitError, Interrupted, TrainingFailed
from dlkit.process import heavy_imports
from dlkit.recipe.loader import with_overrides
from dlkit.recipe.schema import Recipe
from dlkit.recipe.search_space import CategoricalParam, FloatParam, IntParam, TuneConfig
from dlkit.retry import retry_collisions
from dlkit.tracking.mlflow_run import MlflowRun
from dlkit.tracking.store import resolve_tracking_uri
from dlkit.training.run import Nested, run
from dlkit.tuning import display, liveness
from dlkit.tuning.workers import Workers, threads_per_worker, wait_for_handover

DEFAULT_JOURNAL = "optuna-studies.journal"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class TuneResult:
    """What a tuning session reports back."""

    study: Any
    parent_run_id: str | None
    best_value: float | None
    best_params: dict[str, Any]
    best_recipe: Recipe | None
    #: the objective values of the picked trial (one per metric)
    best_values: list[float] | None = None


def storage_for(url: str | None) -> tuple[Any, str]:
    """An Optuna storage and its printable name: a journal file by default, or an RDB URL.

    Heartbeats and retries of dead workers' trials are dlkit's own (see `liveness`), the same on every storage.
    """
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if not url or "://" not in url:
        path = Path(url or DEFAULT_JOURNAL).resolve()
        if not path.parent.is_dir():
            raise BadInput(f"--storage: folder {path.parent} does not exist")
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    try:
        # workers started together on a fresh database race to create Optuna's tables: the loser sees a
        # duplicate table or key and opens the schema the winner made
        store = retry_collisions(lambda: RDBStorage(url, engine_kwargs={"pool_pre_ping": True}), attempts=6, pause=0.3)
    except Exception as e:
        raise BadInput(
            f"--storage {url}: {str(e).strip().splitlines()[0]}", hint="check the URL and that the server runs"
        ) from None
    return store, url


def make_sampler(cfg: TuneConfig, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The configured sampler, seeded with tune.seed + `offset`.

    Every process of a study, and every restart of it, needs a stream of its own: two workers (or
    a restart) with the same seed would draw the same random parameters and repeat each other's
    trials. The offset is the number of trials the study held when this process joined it plus a
    large multiple of the worker's index: a fresh single-process study uses tune.seed itself.
    """
    seed = cfg.seed + offset
    samplers: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.startup_trials),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=cfg.startup_trials),
        "gp": lambda: optuna.samplers.GPSampler(seed=seed, n_startup_trials=cfg.startup_trials),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=seed),
        "grid": lambda: optuna.samplers.GridSampler(_grid(cfg), seed=seed),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
    }
    return samplers[cfg.sampler]()


def _grid(cfg: TuneConfig) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for key, spec in cfg.space.items():
        if isinstance(spec, CategoricalParam):
            grid[key] = [json.dumps(c) for c in spec.choices]
        elif isinstance(spec, IntParam):
            grid[key] = list(range(spec.low, spec.high + 1, spec.step))
        elif spec.step is not None:
            count = round((spec.high - spec.low) / spec.step)
            grid[key] = [spec.low + i * spec.step for i in range(count + 1)]
        else:
            raise BadInput(f"tune.space.{key}: the grid sampler needs a step for float parameters")
    return grid


def make_pruner(cfg: TuneConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    warmup = cfg.warmup_epochs
    pruners: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=cfg.startup_trials, n_warmup_steps=warmup),
        "percentile": lambda: optuna.pruners.PercentilePruner(
            cfg.percentile, n_startup_trials=cfg.startup_trials, n_warmup_steps=warmup
        ),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=max(1, warmup), max_resource=max_epochs),
        "successive_halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup)),
        "none": lambda: optuna.pruners.NopPruner(),
    }
    return pruners[cfg.effective_pruner]()


def suggest(trial: optuna.Trial, cfg: TuneConfig) -> dict[str, Any]:
    """One value per searched field."""
    values: dict[str, Any] = {}
    for key, spec in cfg.space.items():
        if isinstance(spec, FloatParam):
            values[key] = trial.suggest_float(key, spec.low, spec.high, log=spec.log, step=spec.step)
        elif isinstance(spec, IntParam):
            values[key] = trial.suggest_int(key, spec.low, spec.high, step=spec.step, log=spec.log)
        else:
            # choices may be lists (layer widths): Optuna stores their JSON text
            values[key] = json.loads(trial.suggest_categorical(key, [json.dumps(c) for c in spec.choices]))
    return values


def with_values(recipe: Recipe, values: dict[str, Any]) -> Recipe:
    """The recipe with dotted fields set to `values`, validated with the loader's messages."""
    return with_overrides(recipe, [f"{k}={json.dumps(v)}" for k, v in values.items()], "tune")


class PruningReporter(Callback):
    """Reports the monitored validation metric to the trial every epoch; a pruned trial stops at once."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial = trial
        self.metric = metric

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.metric not in trainer.callback_metrics:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(trainer.callback_metrics[self.metric]), epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")


def parse_pick(pick: str, multi: bool) -> float | None:
    """`best` -> None; `smallest-within:D` -> D (multi-objective only)."""
    if pick == "best":
        return None
    prefix = "smallest-within:"
    if not pick.startswith(prefix):
        raise BadInput(f"--pick {pick!r}: use best or smallest-within:TOLERANCE (e.g. smallest-within:0.005)")
    if not multi:
        raise BadInput(f"--pick {pick}: needs a multi-objective search (tune.metrics); use --pick best")
    try:
        tolerance = float(pick[len(prefix) :])
    except ValueError:
        raise BadInput(f"--pick {pick}: the tolerance must be a number, e.g. smallest-within:0.005") from None
    if not tolerance >= 0:
        raise BadInput(f"--pick {pick}: the tolerance must be zero or positive")
    return tolerance


def pick_trial(study: optuna.Study, directions: list[str], tolerance: float | None) -> optuna.trial.FrozenTrial | None:
    """The best complete trial by the first objective (ties broken by the others), or with a tolerance
    the one best on the other objectives among those within `tolerance` of the best first objective."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]

    def key(t: optuna.trial.FrozenTrial, order: list[int]) -> tuple[float, ...]:
        return tuple(signs[i] * float(t.values[i]) for i in order)

    n = len(directions)
    if tolerance is None:
        return min(complete, key=lambda t: key(t, list(range(n))))
    best_first = min(signs[0] * float(t.values[0]) for t in complete)
    within = [t for t in complete if signs[0] * float(t.values[0]) <= best_first + tolerance]
    return min(within, key=lambda t: key(t, [*range(1, n), 0]))


def objective_values(result: Any, cfg: TuneConfig) -> list[float]:
    """Each objective of a finished trial: validation metrics at the best epoch of the first one, model facts as measured."""
    objectives = cfg.objectives
    first, first_direction = objectives[0]
    rows = [row for row in result.history if first in row]
    best_row: dict[str, float] = {}
    if rows:
        choose = min if first_direction == "minimize" else max
        best_row = choose(rows, key=lambda row: row[first])
    values: list[float] = []
    for metric, direction in objectives:
        if metric in metric_names.MODEL_METRICS:
            if metric not in result.model_metrics:
                raise TrainingFailed(f"the run measured no {metric}")
            values.append(float(result.model_metrics[metric]))
        elif metric in best_row:
            values.append(float(best_row[metric]))
        else:
            scores = [row[metric] for row in result.history if metric in row]
            if not scores:
                raise TrainingFailed(f"the run logged no {metric}")
            values.append(float(min(scores) if direction == "minimize" else max(scores)))
    return values


@dataclass
class _Session:
    """What every trial of one worker shares."""

    study: optuna.Study
    cfg: TuneConfig
    recipe: Recipe
    budget: int
    deadline: float | None
    parent_run_id: str
    tracking_uri: str
    experiment: str
    name: str
    say: Callable[[str], None]


def _work(s: _Session) -> None:
    """Claim and run trials until the study holds its budget (complete + pruned) or time runs out."""
    failures_in_a_row = 0
    while True:
        liveness.recover_dead(s.study, s.tracking_uri, s.say)
        if s.deadline is not None and time.time() >= s.deadline:
            return
        finished = len(s.study.get_trials(deepcopy=False, states=FINISHED))
        running = len(s.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if finished + running >= s.budget:
            return
        trial = s.study.ask()
        liveness.claim(s.study, trial)
        if _surplus(s.study, trial, s.budget):
            # another worker claimed the last trial of the budget at the same instant
            s.study._storage.set_trial_system_attr(trial._trial_id, liveness.SURPLUS, True)
            s.study.tell(trial, state=TrialState.FAIL)
            return
        state, reason = _run_trial(s, trial)
        if state == "EXHAUSTED":
            s.say("the grid is exhausted: every combination has been tried")
            return
        failures_in_a_row = failures_in_a_row + 1 if state == "FAIL" else 0
        if failures_in_a_row >= 3:
            raise TrainingFailed(f"3 trials in a row failed; the last one: {reason}")


def _surplus(study: optuna.Study, trial: optuna.Trial, budget: int) -> bool:
    ahead = [
        t
        for t in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
        if t.number < trial.number and not t.system_attrs.get(liveness.SURPLUS)
    ]
    return len(ahead) >= budget


def _run_trial(s: _Session, trial: optuna.Trial) -> tuple[str, str]:
    """Train one trial and tell the study how it ended: (state, failure reason)."""

    cfg = s.cfg
    storage = s.study._storage
    # single-objective trials report every epoch (the intermediate values figure; pruning when a pruner is set)
    callbacks = [] if cfg.multi else [PruningReporter(trial, cfg.objectives[0][0])]
    nested = Nested(
        s.parent_run_id,
        f"-trial{trial.number}",
        {"dlkit.trial": str(trial.number), "dlkit.study": s.name},
        callbacks=callbacks,
        stop_on=(optuna.TrialPruned,),
        on_created=lambda run_id: storage.set_trial_system_attr(trial._trial_id, liveness.MLFLOW_RUN, run_id),
    )
    state, reason, scores, interrupted = "FAIL", "", None, False
    values: dict[str, Any] = {}
    with liveness.Heartbeat(s.study, trial):
        try:
            values = suggest(trial, cfg)
            result = run(
                with_values(s.recipe, values),
                tracking_uri=s.tracking_uri,
                experiment=s.experiment,
                say=lambda _: None,
                progress_bar=False,
                nested=nested,
            )
            scores = objective_values(result, cfg)
            state = "COMPLETE"
        except optuna.TrialPruned as e:
            state, reason = "PRUNED", str(e)
        except (Interrupted, KeyboardInterrupt):
            interrupted, reason = True, "interrupted"
        except DlkitError as e:
            reason = e.message
    if state == "COMPLETE":
        more = _tell(s.study, trial, values=scores)
    elif state == "PRUNED":
        more = _tell(s.study, trial, state=TrialState.PRUNED)
    else:
        storage.set_trial_system_attr(trial._trial_id, liveness.FAIL_REASON, reason[:1000])
        more = _tell(s.study, trial, state=TrialState.FAIL)
    if nested.run_id:
        from mlflow import MlflowClient

        MlflowClient(s.tracking_uri).set_tag(nested.run_id, "dlkit.trial_state", state)
    shown = ", ".join(f"{m} {v:.4g}" for (m, _), v in zip(cfg.objectives, scores, strict=True)) if scores else reason
    s.say(f"trial {trial.number}: {state} {shown} {json.dumps(values)}")
    if interrupted:
        s.study.enqueue_trial(trial.params, user_attrs={liveness.RETRY_OF: trial.number}, skip_if_exists=False)
        raise Interrupted("interrupted; run the same command again to continue the study")
    return state if more else "EXHAUSTED", reason


def _tell(study: optuna.Study, trial: optuna.Trial, **outcome: Any) -> bool:
    """Record the trial's outcome; False when the sampler has nothing left to try (a finished grid)."""
    try:
        study.tell(trial, **outcome)
    except RuntimeError as e:
        # the grid sampler stops the study from `after_trial`, which Optuna allows inside optimize() only;
        # the outcome is stored either way
        if "Study.stop" not in str(e):
            raise
        return False
    return True


def _open_study(
    store: Any, name: str, recipe: Recipe, cfg: TuneConfig, store_name: str, worker_index: int = 0
) -> optuna.Study:
    directions = [d for _, d in cfg.objectives]
    study = optuna.create_study(
        study_name=name,
        storage=store,
        sampler=make_sampler(cfg),
        pruner=make_pruner(cfg, recipe.trainer.max_epochs),
        directions=directions,
        load_if_exists=True,
    )
    held = len(study.get_trials(deepcopy=False))
    if held or worker_index:
        study.sampler = make_sampler(cfg, held + 1_000_003 * worker_index)
    metrics = [m for m, _ in cfg.objectives]
    if study.user_attrs.get("dlkit.metrics") != metrics:
        study.set_user_attr("dlkit.metrics", metrics)
    have = [d.name.lower() for d in study.directions]
    if have != directions:
        raise BadInput(
            f"--study {name}: the study in {store_name} optimises {have}, this recipe {directions}",
            hint="give another --study name",
        )
    return study


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
            f"recipe {recipe.name} has no tune section", hint="add tune.space (see `dlkit recipes show digits-cnn`)"
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
    study = _open_study(store, name, recipe, cfg, store_name, worker_index)
    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    exp = experiment or recipe.tracking.experiment
    deadline = time.time() + timeout if timeout else None

    def session(run_recipe: Recipe, parent_run_id: str, tell: Callable[[str], None]) -> _Session:
        return _Session(study, cfg, run_recipe, budget, deadline, parent_run_id, uri, exp, name, tell)

    if worker_of is not None:
        parent_run_id = wait_for_handover(worker_of)
        if parent_run_id is not None:
            _work(session(recipe, parent_run_id, say))
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
                _work(own)
                if workers is not None:
                    for problem in workers.wait():
                        say(problem)
        finally:
            if workers is not None:
                workers.stop()  # nothing left running after a normal end; after an error, stops them
        return _finish(study, recipe, cfg, parent, export, tolerance, say)


def _finish(
    study: optuna.Study,
    recipe: Recipe,
    cfg: TuneConfig,
    parent: Any,
    export: Path | None,
    tolerance: float | None,
    say: Callable[[str], None],
) -> TuneResult:
    """Best value, params and recipe on the parent run, with Optuna's figures (and the Pareto front)."""
    import yaml

    metrics = [m for m, _ in cfg.objectives]
    directions: list[str] = [d for _, d in cfg.objectives]
    best = pick_trial(study, directions, tolerance)
    c = display.counts(study)
    summary = {
        "trials/complete": float(c["complete"]),
        "trials/pruned": float(c["pruned"]),
        "trials/failed": float(c["failed"]),
    }
    if best is None:
        parent.log_metrics(summary, step=0)
        say("no trial completed yet")
        return TuneResult(study, parent.run_id, None, {}, None)
    values = {
        k: (json.loads(v) if isinstance(v, str) and isinstance(cfg.space[k], CategoricalParam) else v)
        for k, v in best.params.items()
    }
    best_recipe = with_values(recipe, values)
    text = "# dlkit train best-recipe.yaml\n" + yaml.safe_dump(
        best_recipe.model_dump(mode="json", exclude={"tune"}), sort_keys=False
    )
    summary.update({f"best/{m}": float(v) for m, v in zip(metrics, best.values, strict=True)})
    summary["best/trial"] = float(best.number)
    if cfg.multi:
        summary["pareto/size"] = float(len(study.best_trials))
    parent.log_metrics(summary, step=0)
    parent.set_tags({f"best.{k}": json.dumps(v) for k, v in values.items()})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "best-recipe.yaml").write_text(text)
        _tables(study, metrics, folder)
        _figures(study, metrics, folder)
        parent.log_artifacts(folder)
    if export is not None:
        try:
            export.write_text(text.replace("# dlkit train best-recipe.yaml", f"# dlkit train {export}"))
        except OSError as e:
            raise BadInput(f"--export {export}: cannot write ({e.strerror})") from None
        say(f"best recipe written to {export}")
    shown = ", ".join(f"{m} = {v:.4f}" for m, v in zip(metrics, best.values, strict=True))
    say(f"{'picked' if tolerance is not None else 'best'} trial {best.number}: {shown} with {json.dumps(values)}")
    return TuneResult(study, parent.run_id, float(best.values[0]), values, best_recipe, list(best.values))


def _tables(study: optuna.Study, metrics: list[str], folder: Path) -> None:
    """trials.csv (every trial) and, for several objectives, pareto.csv (the non-dominated ones)."""
    import csv

    def write(path: Path, trials: list[optuna.trial.FrozenTrial]) -> None:
        keys = sorted({k for t in trials for k in t.params})
        with path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["trial", "state", *metrics, "seconds", *keys])
            for t in sorted(trials, key=lambda t: t.number):
                scores = list(t.values) if t.values else [""] * len(metrics)
                if len(scores) != len(metrics):  # a pruned trial keeps its last intermediate value only
                    scores = [*scores, *[""] * (len(metrics) - len(scores))]
                seconds = f"{t.duration.total_seconds():.2f}" if t.duration else ""
                out.writerow([t.number, t.state.name, *scores, seconds, *(t.params.get(k, "") for k in keys)])

    write(
        folder / "trials.csv", [t for t in study.get_trials(deepcopy=False) if not t.system_attrs.get(liveness.SURPLUS)]
    )
    if len(metrics) > 1:
        write(folder / "pareto.csv", study.best_trials)


def _figures(study: optuna.Study, metrics: list[str], folder: Path) -> None:
    """Optuna's matplotlib figures; each needs enough trials, so each is optional."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    first: dict[str, Any] = {}
    if len(metrics) > 1:
        first = {"target": lambda t: t.values[0], "target_name": metrics[0]}
    plots: dict[str, Callable[[], Any]] = {
        "optimization_history.png": lambda: ovm.plot_optimization_history(study, **first),
        "param_importances.png": lambda: ovm.plot_param_importances(study, **first),
        "parallel_coordinate.png": lambda: ovm.plot_parallel_coordinate(study, **first),
    }
    if len(metrics) == 1 and any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        plots["intermediate_values.png"] = lambda: ovm.plot_intermediate_values(study)
    else:
        plots["pareto_front.png"] = lambda: ovm.plot_pareto_front(study, target_names=metrics)
    for filename, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = plot()
            figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            figure.set_size_inches(8, 5)
            figure.tight_layout()
            figure.savefig(folder / filename, dpi=100)
            plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError):
            plt.close("all")


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
