"""`run()`: the one path from a validated recipe to a finished, tracked MLflow run.

`run_cv()` repeats it over k folds under a parent run that holds the mean and
standard deviation of every test metric.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from dlkit import __version__, data, models, reports, tasks
from dlkit import metric_names as m
from dlkit.errors import BadInput, DlkitError, Interrupted, Terminated, TrainingFailed
from dlkit.models.checkpoints import META_KEY, checkpoint_metadata, read_checkpoint
from dlkit.process import heavy_imports
from dlkit.recipe.schema import Recipe
from dlkit.tracking.mlflow_run import MlflowRun, flatten, git_commit
from dlkit.tracking.query import is_stale
from dlkit.tracking.store import check_readable, resolve_tracking_uri
from dlkit.training import transfer
from dlkit.training.callbacks import (
    AtomicCheckpoint,
    EpochRecorder,
    GracefulInterrupt,
    LastCheckpoint,
    NonFiniteGuard,
    UnfreezeAt,
    epoch_line,
)
from dlkit.training.logged_model import log_model

Say = Callable[[str], None]


@dataclass
class RunResult:
    """What a finished run reports back."""

    run_id: str | None
    experiment_id: str | None
    tracking_uri: str
    test_metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    best_checkpoint: str | None = None
    seconds: float = 0.0
    children: list[RunResult] = field(default_factory=list)
    #: model/params and model/latency_ms
    model_metrics: dict[str, float] = field(default_factory=dict)
    #: the resolved recipe the run trained
    recipe: Recipe | None = None


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    return None


def _make_trainer(recipe: Recipe, callbacks: list[Any], root: Path, progress_bar: bool, single: bool = False) -> Any:
    """The recipe's Trainer; `single`: one process on one device of the same kind (for the test split)."""
    import lightning as L

    t = recipe.trainer
    try:
        return L.Trainer(
            max_epochs=t.max_epochs,
            accelerator=t.accelerator,
            devices=1 if single else t.devices,
            strategy="auto" if single else t.strategy,
            num_nodes=1 if single else t.num_nodes,
            precision=t.precision,
            deterministic=t.deterministic,
            fast_dev_run=t.fast_dev_run,
            limit_train_batches=t.limit_train_batches,
            limit_val_batches=t.limit_val_batches,
            # gradient clipping happens in Task.optimize (manual optimisation)
            callbacks=callbacks,
            logger=False,
            default_root_dir=str(root),
            enable_model_summary=False,
            enable_progress_bar=progress_bar,
            num_sanity_val_steps=0,
        )
    except Exception as e:  # Lightning reports misconfiguration (no GPU, unknown strategy) this way
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        if isinstance(e, MisconfigurationException | ValueError | RuntimeError):
            message = str(e).strip().splitlines()[0]
            raise BadInput(
                f"trainer (accelerator={t.accelerator}, devices={t.devices}, strategy={t.strategy}): {message}",
                hint="trainer.accelerator=auto trains on a GPU when this machine has one, else on the CPU",
            ) from None
        raise


@dataclass
class Nested:
    """A child run: its parent, a suffix of its name, its tags; callbacks and clean stops of its owner."""

    parent_run_id: str
    suffix: str
    tags: dict[str, str] = field(default_factory=dict)
    callbacks: list[Any] = field(default_factory=list)
    stop_on: tuple[type[BaseException], ...] = ()
    #: filled in once the child run exists
    run_id: str | None = None
    #: told the child run's id as soon as it exists (a tuning trial records it in the study)
    on_created: Callable[[str], None] | None = None


@dataclass
class Resume:
    """Where a resumed run continues: its MLflow run, its last checkpoint, the last epoch MLflow holds."""

    run_id: str
    checkpoint: Path
    logged_through: int


@dataclass
class _Prepared:
    datamodule: Any
    task: Any
    n_params: int
    frozen: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _prepare(recipe: Recipe, fold: tuple[int, int] | None, uri: str) -> _Prepared:
    """Data, backbone (with transferred weights) and task: every bad-input error surfaces here, before any run."""
    import lightning as L
    import torch

    t = recipe.trainer
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    L.seed_everything(t.seed, workers=True, verbose=False)
    datamodule = data.build(recipe, fold)
    backbone = models.build(recipe.model, datamodule.info)
    notes = []
    if recipe.model.init_from:
        notes.append(transfer.init_from(backbone, recipe.model.init_from, uri))
    frozen = transfer.freeze(backbone, recipe.model.freeze)
    task = tasks.build(recipe, backbone, datamodule.info, uri)
    n_params = sum(p.numel() for p in backbone.parameters())
    if hasattr(datamodule, "on_device"):
        placement: Any = datamodule
        placement.on_device, placement.channels_last = recipe.data.on_device, t.channels_last
        # batch limits count batches, as Lightning's users expect, not groups of them
        grouped = getattr(task, "groups_steps", False) and not t.shortened
        placement.step_group = t.steps_per_call if grouped else 1
    if t.channels_last:
        backbone.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if t.compile:
        backbone.compile()  # in place: parameter names, and so checkpoints, stay the same
    return _Prepared(datamodule, task, n_params, frozen, notes)


def _tags(recipe: Recipe) -> dict[str, str]:

    tags = {
        "dlkit.version": __version__,
        "dlkit.recipe": recipe.name,
        "dlkit.arch": recipe.model.arch,
        "dlkit.task": recipe.task.kind,
        "dlkit.data": f"{recipe.data.kind}:{getattr(recipe.data, 'name', None) or getattr(recipe.data, 'path', '')}",
        **recipe.tracking.tags,
    }
    commit = git_commit(Path.cwd())
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def run(
    recipe: Recipe,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    say: Say = print,
    progress_bar: bool | None = None,
    nested: Nested | None = None,
) -> RunResult:
    """Fit, test and record one recipe. Bad input raises before any MLflow run exists.

    `nested` makes the run a child of another (a fold, a tuning trial), with extra callbacks
    and exceptions that end the run as FINISHED instead of FAILED (a pruned trial).
    """
    heavy_imports()

    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    prepared = _prepare(recipe, None, uri)
    return _fit(recipe, prepared, uri, experiment or recipe.tracking.experiment, say, progress_bar, nested)


def resume(
    run_id: str, *, tracking_uri: str | None = None, say: Say = print, progress_bar: bool | None = None
) -> RunResult:
    """Continue a killed or crashed run from its last checkpoint, in the same MLflow run."""
    heavy_imports()
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri, None)
    check_readable(uri)
    client = MlflowClient(uri)
    try:
        found = client.get_run(run_id)
    except MlflowException:
        raise BadInput(f"--resume: run {run_id} not found in {uri}", hint="pass --tracking-uri of its store") from None
    status = found.info.status
    if status == "FINISHED":
        raise BadInput(f"--resume: run {run_id} already finished")
    if status == "RUNNING" and not is_stale(found):
        where = f"process {found.data.tags.get('dlkit.pid', '?')} on {found.data.tags.get('dlkit.host', '?')}"
        raise BadInput(f"--resume: run {run_id} is still running ({where})", hint="stop it first (Ctrl-C or kill)")
    folder = _local_path(found.info.artifact_uri)
    path = folder / "checkpoints" / "last.ckpt" if folder else None
    if folder is None:
        try:
            path = Path(client.download_artifacts(run_id, "checkpoints/last.ckpt", tempfile.mkdtemp(prefix="dlkit-")))
        except (MlflowException, OSError):
            path = None
    if path is None or not path.is_file():
        raise BadInput(
            f"--resume: run {run_id} has no last checkpoint (it stopped before its first epoch ended)",
            hint="train the recipe again",
        )
    meta = read_checkpoint(path, "--resume").get(META_KEY)
    if not isinstance(meta, dict) or meta.get("run_id") != run_id:
        raise BadInput(f"--resume: {path} does not belong to run {run_id}")
    recipe = Recipe.model_validate(meta["recipe"])
    steps = [point.step for point in client.get_metric_history(run_id, "perf/epoch_seconds")]
    experiment = client.get_experiment(found.info.experiment_id).name
    prepared = _prepare(recipe, None, uri)
    state = Resume(run_id, path, max(steps, default=-1))
    return _fit(recipe, prepared, uri, experiment, say, progress_bar, None, state)


def run_cv(
    recipe: Recipe,
    folds: int,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    say: Say = print,
    progress_bar: bool | None = None,
) -> RunResult:
    """k-fold cross-validation: a parent run with one child run per fold; mean and std of every test metric."""
    import numpy as np

    heavy_imports()

    if folds < 2:
        raise BadInput(f"--folds must be at least 2, not {folds}")
    started = time.perf_counter()
    uri = resolve_tracking_uri(tracking_uri, recipe.tracking.tracking_uri)
    first = _prepare(recipe, (0, folds), uri)  # data errors (too few samples per class, ...) before any run
    name = experiment or recipe.tracking.experiment
    parent = MlflowRun(
        uri, name, f"{recipe.tracking.run_name or recipe.name}-cv{folds}", {**_tags(recipe), "dlkit.folds": str(folds)}
    )
    children: list[RunResult] = []
    with parent:
        parent.log_params({**flatten(recipe.model_dump(mode="json")), "cv.folds": str(folds)})
        say(f"cross-validation run {parent.run_id}: {folds} folds in experiment '{name}' ({uri})")
        for i in range(folds):
            say(f"fold {i + 1}/{folds}")
            prepared = first if i == 0 else _prepare(recipe, (i, folds), uri)
            nested = Nested(parent.run_id, f"-fold{i}", {"dlkit.fold": str(i)})
            children.append(_fit(recipe, prepared, uri, name, say, progress_bar, nested))
        summary: dict[str, float] = {}
        for key in sorted(children[0].test_metrics):
            values = np.asarray([c.test_metrics[key] for c in children if key in c.test_metrics], dtype=np.float64)
            summary[f"cv/{key}_mean"] = float(values.mean())
            summary[f"cv/{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        parent.log_metrics(summary, step=0)
    return RunResult(
        parent.run_id, parent.experiment_id, uri, summary, seconds=time.perf_counter() - started, children=children
    )


def _fit(
    recipe: Recipe,
    prepared: _Prepared,
    uri: str,
    experiment: str,
    say: Say,
    progress_bar: bool | None,
    nested: Nested | None,
    resume: Resume | None = None,
) -> RunResult:
    started = time.perf_counter()
    import os
    import signal
    import socket

    import torch
    from lightning.pytorch.callbacks import EarlyStopping, RichProgressBar

    t = recipe.trainer
    datamodule, task = prepared.datamodule, prepared.task
    info = datamodule.info
    interactive = sys.stdout.isatty() if progress_bar is None else progress_bar
    recorder = EpochRecorder(
        None, info.split_sizes["train"], None if interactive else epoch_line(t.max_epochs, t.monitor, say)
    )
    callbacks: list[Any] = [NonFiniteGuard(), recorder]
    if t.early_stopping is not None:
        es = t.early_stopping
        monitor = es.monitor or t.monitor
        mode = es.mode or ("min" if m.lower_is_better(monitor) else "max")
        callbacks.append(EarlyStopping(monitor=monitor, patience=es.patience, min_delta=es.min_delta, mode=mode))
    if interactive:
        callbacks.append(RichProgressBar(leave=True))
    if t.unfreeze_at_epoch is not None:
        callbacks.append(UnfreezeAt(t.unfreeze_at_epoch, prepared.frozen))
    if nested is not None:
        callbacks += nested.callbacks

    # Given at construction, they replace Lightning's default checkpoint callback; their folder is set
    # once the run exists (the run's artifact folder for a local store). The last checkpoint has a
    # callback of its own: ModelCheckpoint's save_last only writes when the best one improves.
    checkpoint = AtomicCheckpoint(
        filename="best", monitor=t.monitor, mode=t.resolved_monitor_mode(), save_top_k=1, enable_version_counter=False
    )
    last = LastCheckpoint(filename="last", monitor=None, save_top_k=1, enable_version_counter=False)
    callbacks += [checkpoint, last]
    workdir = Path(tempfile.mkdtemp(prefix="dlkit-"))
    trainer = _make_trainer(recipe, callbacks, workdir, interactive)
    for warning in info.warnings:
        say(f"warning: {warning}")
    for note in prepared.notes:
        say(note)

    tracker: MlflowRun | None = None
    if trainer.is_global_zero and recipe.tracking.enabled:
        tags = _tags(recipe)
        device = trainer.strategy.root_device
        tags["dlkit.device"] = str(device)
        tags["dlkit.world_size"] = str(trainer.world_size)
        if device.type == "cuda":
            tags["dlkit.device"] += f" ({torch.cuda.get_device_name(device)})"
        run_name = recipe.tracking.run_name or recipe.name
        if nested is not None:
            tags.update({"mlflow.parentRunId": nested.parent_run_id, **nested.tags})
            run_name += nested.suffix
        if recipe.model.init_from:
            tags["dlkit.init_from"] = recipe.model.init_from
        # who runs it, so that `dlkit runs ls` can tell a run whose process died from a live one
        tags.update({"dlkit.host": socket.gethostname(), "dlkit.pid": str(os.getpid())})
        tags["dlkit.heartbeat"] = f"{time.time():.0f}"
        tracker = MlflowRun(uri, experiment, run_name, tags, run_id=resume.run_id if resume else None)
        recorder.tracker = tracker
        if resume is not None:
            recorder.logged_through = resume.logged_through
        if nested is not None:
            nested.run_id = tracker.run_id
            if nested.on_created is not None:
                nested.on_created(tracker.run_id)
    task.checkpoint_meta = checkpoint_metadata(recipe, info, tracker.run_id if tracker else None)

    artifact_dir = _local_path(tracker.artifact_uri) if tracker else None
    ckpt_dir = (artifact_dir / "checkpoints") if artifact_dir else workdir / "checkpoints"
    checkpoint.dirpath = last.dirpath = str(ckpt_dir)

    graceful = GracefulInterrupt(trainer)
    try:
        if tracker is not None:
            if resume is None:
                _log_start(tracker, recipe, datamodule, prepared.n_params, workdir)
            if nested is None:
                verb = "resuming run" if resume else "run"
                say(f"{verb} {tracker.run_id} in experiment '{experiment}' ({uri}) on {trainer.strategy.root_device}")
        with graceful:
            trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume.checkpoint) if resume else None)
        if trainer.world_size > 1:
            # distributed training is over: rank 0 scores the test split on its own, the other ranks stop here
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
            if not trainer.is_global_zero:
                return RunResult(None, None, uri, {}, recorder.history, recipe=recipe)
            trainer = _make_trainer(recipe, [], workdir, False, single=True)
        best = (checkpoint.best_model_path if task.select_best else last.best_model_path) or None
        trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False)
        test_metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        model_metrics = {m.MODEL_PARAMS: float(prepared.n_params)}
        latency = _latency_ms(trainer, task, datamodule)
        if latency is not None:
            model_metrics[m.MODEL_LATENCY_MS] = latency
        if tracker is not None:
            tracker.log_metrics({**test_metrics, **model_metrics}, step=trainer.current_epoch)
            _log_reports(tracker, task, datamodule, recorder.history, t.monitor, workdir)
            if recipe.tracking.log_checkpoint and best and artifact_dir is None:
                tracker.log_artifact(Path(best), "checkpoints")
            if recipe.tracking.log_model and best and nested is None and log_model(tracker, Path(best), recipe, info):
                tracker.set_tags({"dlkit.model": "runs:/" + tracker.run_id + "/model"})
            tracker.end("FINISHED")
    except (KeyboardInterrupt, SystemExit) as e:
        if tracker is not None:
            tracker.end("KILLED", "interrupted")
        if not (recorder.interrupted or isinstance(e, KeyboardInterrupt) or _is_sigterm(e)):
            raise
        done = len(recorder.history)
        how = f"continue it with: dlkit train --resume {tracker.run_id}" if tracker and done else "start it again"
        if graceful.received == signal.SIGINT or isinstance(e, KeyboardInterrupt):
            raise Interrupted(f"interrupted after {done} epoch(s); the run is marked KILLED; {how}") from None
        raise Terminated(f"stopped by SIGTERM after {done} epoch(s); the run is marked KILLED; {how}") from None
    except Exception as e:
        if nested is None or not isinstance(e, nested.stop_on):
            _end_failed(tracker, e)
            if isinstance(e, DlkitError):
                raise
            raise _as_dlkit_error(e) from e
        if tracker is not None:
            tracker.end("FINISHED")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return RunResult(
        run_id=tracker.run_id if tracker else None,
        experiment_id=tracker.experiment_id if tracker else None,
        tracking_uri=uri,
        test_metrics=test_metrics,
        history=recorder.history,
        best_checkpoint=str(ckpt_dir / "best.ckpt") if artifact_dir else None,
        seconds=time.perf_counter() - started,
        model_metrics=model_metrics,
        recipe=recipe,
    )


def _latency_ms(trainer: Any, task: Any, datamodule: Any, repeats: int = 5) -> float | None:
    """Inference time per sample in milliseconds: the median of a few passes over one test batch, in the
    trainer's precision (inputs converted and autocast as in its test step)."""
    import torch

    batch = next(iter(datamodule.test_dataloader()), None)
    if batch is None:
        return None
    batch = task.transfer_batch_to_device(batch, task.device, 0)
    precision = trainer.precision_plugin
    batch = precision.convert_input(batch)
    n = len(batch[1])
    was_training = task.training
    task.eval()
    times = []
    with torch.inference_mode(), precision.forward_context():
        task.infer(batch)  # warm-up
        for _ in range(repeats):
            if task.device.type == "cuda":
                torch.cuda.synchronize(task.device)
            start = time.perf_counter()
            task.infer(batch)
            if task.device.type == "cuda":
                torch.cuda.synchronize(task.device)
            times.append(time.perf_counter() - start)
    task.train(was_training)
    return 1000.0 * sorted(times)[len(times) // 2] / max(1, n)


def _is_sigterm(e: BaseException) -> bool:
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    return isinstance(e, SIGTERMException)


def _end_failed(tracker: Any, e: BaseException) -> None:
    if tracker is not None:
        message = e.message if isinstance(e, DlkitError) else f"{type(e).__name__}: {e}"
        tracker.end("FAILED", message, getattr(e, "failure_code", None))


def _as_dlkit_error(e: Exception) -> DlkitError:
    if isinstance(e, DlkitError):
        return e
    first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return TrainingFailed(
        f"training failed: {type(e).__name__}: {first_line}", hint="rerun with --debug for the traceback"
    )


def _log_start(tracker: Any, recipe: Recipe, datamodule: Any, n_params: int, workdir: Path) -> None:
    """Params (the flattened resolved recipe), the recipe file, preprocessing, the dataset inputs, model size."""
    import yaml

    resolved = recipe.model_dump(mode="json")
    tracker.log_params(flatten(resolved))
    info = datamodule.info
    folder = workdir / "start"
    folder.mkdir()
    (folder / "recipe.yaml").write_text("# dlkit train recipe.yaml\n" + yaml.safe_dump(resolved, sort_keys=False))
    (folder / "preprocessing.json").write_text(json.dumps(info.preprocessing, indent=1, default=str))
    tracker.log_artifacts(folder)
    source = {"loader": info.source, "name": info.name}
    for split, (features, targets) in datamodule.splits.items():
        extra = {"dlkit.split_size": str(len(targets)), "dlkit.split": split}
        if info.class_names:
            counts = targets.bincount(minlength=len(info.class_names)).tolist()
            extra["dlkit.class_balance"] = ", ".join(f"{n}={c}" for n, c in zip(info.class_names, counts, strict=True))
        tracker.log_dataset(
            features.numpy(),
            targets.numpy(),
            name=f"{info.name}-{split}",
            source=source,
            context={"train": "training", "val": "validation", "test": "testing"}[split],
            extra=extra,
        )
    tracker.log_metrics({m.MODEL_PARAMS: float(n_params)}, step=0)
    if info.warnings:
        tracker.set_tags({"dlkit.data_warnings": " | ".join(info.warnings)[:5000]})


def _log_reports(
    tracker: Any, task: Any, datamodule: Any, history: list[dict[str, float]], monitor: str, workdir: Path
) -> None:

    folder = workdir / "reports"
    folder.mkdir()
    task.write_reports(folder, datamodule.index["test"])
    if history:
        reports.learning_curves(history, monitor, folder / "learning_curves.png")
    tracker.log_artifacts(folder)
