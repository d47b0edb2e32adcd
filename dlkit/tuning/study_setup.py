"""Where a study lives and how it searches: the storage, the sampler, the pruner, the study itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from dlkit.errors import BadInput
from dlkit.recipe.schema import Recipe
from dlkit.recipe.search_space import CategoricalParam, IntParam, TuneConfig
from dlkit.retry import retry_collisions
from dlkit.tuning import liveness
from dlkit.tuning.journal import DEFAULT_JOURNAL, check_journal


def storage_for(url: str | None) -> tuple[Any, str]:
    """An Optuna storage and its printable name: a journal file by default, or an RDB URL.

    An RDB storage keeps Optuna's heartbeats and retries the trials of dead workers through Optuna's
    callback; a journal has neither, and dlkit keeps both (see `liveness`).
    """
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not url or "://" not in url:
        path = Path(url or DEFAULT_JOURNAL).resolve()
        check_journal(path)
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    try:
        # workers started together on a fresh database race to create Optuna's tables: the loser sees a
        # duplicate table or key and opens the schema the winner made
        store = retry_collisions(lambda: _rdb(url), attempts=6, pause=0.3)
    except Exception as e:
        raise BadInput(
            f"--storage {url}: {str(e).strip().splitlines()[0]}", hint="check the URL and that the server runs"
        ) from None
    return store, url


def _rdb(url: str) -> Any:
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeat_interval: experimental since Optuna 2.9
        return RDBStorage(
            url,
            engine_kwargs={"pool_pre_ping": True},
            heartbeat_interval=int(liveness.HEARTBEAT_S),
            grace_period=int(liveness.GRACE_S),
            heartbeat_stale_trial_callback=liveness.Stale(),
        )


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


def open_study(
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
    if study.metric_names != metrics:  # optuna-dashboard and the DataFrame name the objectives
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(metrics)
    have = [d.name.lower() for d in study.directions]
    if have != directions:
        raise BadInput(
            f"--study {name}: the study in {store_name} optimises {have}, this recipe {directions}",
            hint="give another --study name",
        )
    return study
