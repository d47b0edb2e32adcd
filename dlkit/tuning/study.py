"""`tune()`: an Optuna study over a recipe's search space, one MLflow child run per trial.

The study lives in an Optuna storage (a journal file in the working directory by
default, or any RDB URL), so re-running the same command continues it; the trial
budget counts complete and pruned trials across restarts.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import optuna
from lightning.pytorch.callbacks import Callback

from dlkit import metric_names
from dlkit.errors import BadInput, TrainingFailed
from dlkit.tuning.params import CategoricalParam, FloatParam, IntParam, TuneConfig

DEFAULT_JOURNAL = "optuna-studies.journal"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class TuneResult:
    """What a tuning session reports back."""

    study: Any
    parent_run_id: str | None
    best_value: float | None
    best_params: dict[str, Any]
    best_recipe: Any


def storage_for(url: str | None) -> tuple[Any, str]:
    """An Optuna storage and its printable name: a journal file by default, or an RDB URL."""
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if not url or "://" not in url:
        path = Path(url or DEFAULT_JOURNAL).resolve()
        if not path.parent.is_dir():
            raise BadInput(f"--storage: folder {path.parent} does not exist")
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    try:
        return RDBStorage(
            url,
            heartbeat_interval=30,
            grace_period=120,
            failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=1),
        ), url
    except Exception as e:
        raise BadInput(
            f"--storage {url}: {str(e).strip().splitlines()[0]}", hint="check the URL and that the server runs"
        ) from None


def make_sampler(cfg: TuneConfig) -> optuna.samplers.BaseSampler:
    samplers: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=cfg.startup_trials),
        "random": lambda: optuna.samplers.RandomSampler(seed=cfg.seed),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=cfg.seed, n_startup_trials=cfg.startup_trials),
        "gp": lambda: optuna.samplers.GPSampler(seed=cfg.seed, n_startup_trials=cfg.startup_trials),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=cfg.seed),
        "grid": lambda: optuna.samplers.GridSampler(_grid(cfg), seed=cfg.seed),
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
    return pruners[cfg.pruner]()


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


def with_values(recipe: Any, values: dict[str, Any]) -> Any:
    """The recipe with dotted fields set to `values` (validated)."""
    from dlkit.recipe.loader import apply_overrides
    from dlkit.recipe.schema import Recipe

    raw = recipe.model_dump(mode="json")
    apply_overrides(raw, [f"{k}={json.dumps(v)}" for k, v in values.items()], "tune")
    return Recipe.model_validate(raw)


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


def tune(
    recipe: Any,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    export: Path | None = None,
    say: Callable[[str], None] = print,
) -> TuneResult:
    """Run (or continue) the study until it holds the trial budget, recording every trial in MLflow."""
    from dlkit.tracking.mlflow_run import MlflowRun
    from dlkit.tracking.store import resolve_tracking_uri
    from dlkit.training.run import Nested, heavy_imports, run

    cfg: TuneConfig | None = recipe.tune
    if cfg is None:
        raise BadInput(
            f"recipe {recipe.name} has no tune section", hint="add tune.space (see `dlkit recipes show digits-cnn`)"
        )
    heavy_imports()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budget = trials or cfg.trials
    direction = cfg.direction or ("minimize" if metric_names.lower_is_better(cfg.metric) else "maximize")
    store, store_name = storage_for(storage)
    name = study_name or recipe.name
    study = optuna.create_study(
        study_name=name,
        storage=store,
        sampler=make_sampler(cfg),
        pruner=make_pruner(cfg, recipe.trainer.max_epochs),
        direction=direction,
        load_if_exists=True,
    )
    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    exp = experiment or recipe.tracking.experiment
    parent = MlflowRun(
        uri,
        exp,
        f"{name}-study",
        {
            "dlkit.study": name,
            "dlkit.storage": store_name,
            "dlkit.sampler": cfg.sampler,
            "dlkit.pruner": cfg.pruner,
            "dlkit.metric": cfg.metric,
            "dlkit.recipe": recipe.name,
        },
        reuse_tags=("dlkit.study", "dlkit.storage"),  # one parent run per study: a restart continues it
    )
    say(f"study '{name}' in {store_name}: {_count(study)} of {budget} trials done; MLflow parent run {parent.run_id}")

    def objective(trial: optuna.Trial) -> float:
        values = suggest(trial, cfg)
        trial_recipe = with_values(recipe, values)
        nested = Nested(
            parent.run_id,
            f"-trial{trial.number}",
            {"dlkit.trial": str(trial.number), "dlkit.study": name},
            callbacks=[PruningReporter(trial, cfg.metric)],
            stop_on=(optuna.TrialPruned,),
        )
        state = "FAIL"
        try:
            result = run(
                trial_recipe, tracking_uri=uri, experiment=exp, say=lambda _: None, progress_bar=False, nested=nested
            )
            scores = [row[cfg.metric] for row in result.history if cfg.metric in row]
            if not scores:
                raise TrainingFailed(f"trial {trial.number} logged no {cfg.metric}")
            state = "COMPLETE"
            return min(scores) if direction == "minimize" else max(scores)
        except optuna.TrialPruned:
            state = "PRUNED"
            raise
        finally:
            if nested.run_id:
                parent.client.set_tag(nested.run_id, "dlkit.trial_state", state)
            say(f"trial {trial.number}: {state} {json.dumps(values)}")

    remaining = budget - _count(study)
    with parent:
        if remaining > 0:
            study.optimize(
                objective,
                timeout=timeout,
                catch=(TrainingFailed,),
                callbacks=[optuna.study.MaxTrialsCallback(budget, states=FINISHED)],
            )
        return _finish(study, recipe, cfg, parent, export, say)


def _count(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def _finish(
    study: optuna.Study, recipe: Any, cfg: TuneConfig, parent: Any, export: Path | None, say: Callable[[str], None]
) -> TuneResult:
    """Best value, params and recipe on the parent run, with Optuna's figures."""
    import yaml

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        say("no trial completed yet")
        return TuneResult(study, parent.run_id, None, {}, None)
    best = study.best_trial
    values = {
        k: (json.loads(v) if isinstance(v, str) and isinstance(cfg.space[k], CategoricalParam) else v)
        for k, v in best.params.items()
    }
    best_recipe = with_values(recipe, values)
    text = "# dlkit train best-recipe.yaml\n" + yaml.safe_dump(
        best_recipe.model_dump(mode="json", exclude={"tune"}), sort_keys=False
    )
    parent.log_metrics(
        {
            f"best/{cfg.metric}": float(best.value or 0.0),
            "best/trial": float(best.number),
            "trials/complete": float(len(complete)),
            "trials/pruned": float(len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,)))),
        },
        step=0,
    )
    parent.set_tags({f"best.{k}": json.dumps(v) for k, v in values.items()})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "best-recipe.yaml").write_text(text)
        _figures(study, folder)
        parent.log_artifacts(folder)
    if export is not None:
        export.write_text(text.replace("# dlkit train best-recipe.yaml", f"# dlkit train {export}"))
        say(f"best recipe written to {export}")
    say(f"best trial {best.number}: {cfg.metric} = {best.value:.4f} with {json.dumps(values)}")
    return TuneResult(study, parent.run_id, float(best.value or 0.0), values, best_recipe)


def _figures(study: optuna.Study, folder: Path) -> None:
    """Optuna's matplotlib figures; each needs enough trials, so each is optional."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    plots: dict[str, Any] = {
        "optimization_history.png": ovm.plot_optimization_history,
        "param_importances.png": ovm.plot_param_importances,
        "parallel_coordinate.png": ovm.plot_parallel_coordinate,
        "intermediate_values.png": ovm.plot_intermediate_values,
    }
    for filename, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = plot(study)
            figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            figure.set_size_inches(8, 5)
            figure.tight_layout()
            figure.savefig(folder / filename, dpi=100)
            plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError):
            plt.close("all")
