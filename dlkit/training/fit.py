"""One tracked fit: callbacks, trainer, the MLflow run, fit, test of the best checkpoint, reports, model.

`fit` reads top to bottom: each phase is one call, and each is written below it.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dlkit import metric_names as m
from dlkit.errors import DlkitError, Interrupted, Terminated, TrainingFailed
from dlkit.models.checkpoints import checkpoint_metadata
from dlkit.recipe.schema import Recipe
from dlkit.recipe.sections import Trainer
from dlkit.tasks import groups
from dlkit.tracking.logged_models import model_uri
from dlkit.tracking.mlflow_run import MlflowRun
from dlkit.tracking.store import local_folder
from dlkit.tracking.system_metrics import system_metrics
from dlkit.training.callbacks import (
    EpochRecorder,
    GracefulInterrupt,
    NonFiniteGuard,
    UnfreezeAt,
    epoch_line,
)
from dlkit.training.checkpointing import checkpoint_callbacks
from dlkit.training.live import LiveLine
from dlkit.training.logged_model import log_model
from dlkit.training.prepare import Prepared
from dlkit.training.records import log_reports, log_start, log_test, run_tags
from dlkit.training.result import Nested, Resume, RunResult, Say
from dlkit.training.trainer import make_trainer


def fit(
    recipe: Recipe,
    prepared: Prepared,
    uri: str,
    experiment: str,
    say: Say,
    progress_bar: bool | None,
    nested: Nested | None,
    resume: Resume | None = None,
    run_name: str | None = None,
) -> RunResult:
    """Fit, test and record a prepared recipe; a failure ends its run FAILED, Ctrl-C or SIGTERM KILLED.
    `run_name`: a new top-level run's name (default: tracking.run_name, else the recipe's name)."""
    started = time.perf_counter()
    t, datamodule, task = recipe.trainer, prepared.datamodule, prepared.task
    interactive = sys.stdout.isatty() if progress_bar is None else progress_bar
    recorder = EpochRecorder(
        None, datamodule.info.split_sizes["train"], None if interactive else epoch_line(t.max_epochs, t.monitor, say)
    )
    best, last = checkpoint_callbacks(t)
    workdir = Path(tempfile.mkdtemp(prefix="dlkit-"))
    callbacks = [*_callbacks(t, prepared, recorder, nested, interactive), best, last]
    trainer = make_trainer(t, callbacks, workdir, interactive)
    info = datamodule.info
    for line in [*(f"note: {n}" for n in info.notes), *(f"warning: {w}" for w in info.warnings), *prepared.notes]:
        say(line)
    tracker = _open_run(recipe, trainer, uri, experiment, nested, resume, run_name) if trainer.is_global_zero else None
    recorder.tracker = tracker
    if resume is not None:
        recorder.logged_through = resume.logged_through
    task.checkpoint_meta = checkpoint_metadata(recipe, datamodule.info, tracker.run_id if tracker else None)
    artifact_dir = local_folder(tracker.artifact_uri) if tracker else None
    ckpt_dir = artifact_dir / "checkpoints" if artifact_dir else workdir / "checkpoints"
    best.dirpath = last.dirpath = str(ckpt_dir)
    graceful = GracefulInterrupt(trainer)
    try:
        if tracker is not None:
            where = f"in experiment '{experiment}' ({uri}) on {trainer.strategy.root_device}"
            _start(tracker, recipe, prepared, workdir, resume, say if nested is None else None, where)
        r = recipe.tracking
        with graceful, system_metrics(tracker, r.system_metrics, r.system_metrics_interval, resume is not None):
            trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume.checkpoint) if resume else None)
        tester = _tester(trainer, t, workdir)
        if tester is None:  # another rank of a distributed run: rank 0 tests and records
            return RunResult(None, None, uri, {}, recorder.history, recipe=recipe)
        best_path = (best.best_model_path if task.select_best else last.best_model_path) or None
        calibrated: dict[str, float] = {}
        if best_path is not None:
            lines, calibrated = task.calibrate_checkpoint(Path(best_path), datamodule.val_dataloader())
            for line in lines:
                say(line)
        test_metrics, model_metrics = _test(tester, prepared, best_path)
        model_metrics.update(calibrated)
        by_group = groups.test_scores(task, datamodule.groups, datamodule.index["test"])
        test_metrics.update(groups.metrics(by_group))
        if tracker is not None:
            step = tester.current_epoch
            model_id = _store_model(tracker, recipe, datamodule.info, best_path, artifact_dir, prepared.example, step)
            reports = nested is None or nested.reports
            log_test(tracker, test_metrics, model_metrics, step, model_id, per_class=reports)
            if reports:
                log_reports(tracker, task, datamodule, recorder.history, t.monitor, workdir, by_group)
            tracker.end("FINISHED")
    except (KeyboardInterrupt, SystemExit) as e:
        _end_stopped(e, tracker, recorder, graceful)
        raise
    except Exception as e:
        _end_failed(e, tracker, nested)
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


def _callbacks(
    t: Trainer, prepared: Prepared, recorder: EpochRecorder, nested: Nested | None, interactive: bool
) -> list[Callback]:
    """The NaN guard, the epoch recorder, early stopping, the progress bar, unfreezing, the owner's own."""
    callbacks: list[Callback] = [NonFiniteGuard(), recorder]
    if t.early_stopping is not None:
        es = t.early_stopping
        monitor = es.monitor or t.monitor
        mode = es.mode or m.direction(monitor)
        callbacks.append(EarlyStopping(monitor=monitor, patience=es.patience, min_delta=es.min_delta, mode=mode))
    if interactive:
        callbacks.append(LiveLine(t.max_epochs, t.monitor, t.resolved_monitor_mode()))
    if t.unfreeze_at_epoch is not None:
        callbacks.append(UnfreezeAt(t.unfreeze_at_epoch, prepared.frozen))
    if nested is not None:
        callbacks += nested.callbacks
    return callbacks


def _open_run(
    recipe: Recipe,
    trainer: L.Trainer,
    uri: str,
    experiment: str,
    nested: Nested | None,
    resume: Resume | None,
    run_name: str | None,
) -> MlflowRun | None:
    """The run's MLflow run (a new one, a child of `nested`'s parent, or the resumed one); None untracked."""
    if not recipe.tracking.enabled:
        return None
    tags = run_tags(recipe, trainer.strategy.root_device, trainer.world_size, nested)
    name = nested.name if nested else (recipe.tracking.run_name or run_name or recipe.name)
    tracker = MlflowRun(
        uri, experiment, name, tags, run_id=resume.run_id if resume else None, unique_name=nested is None
    )
    if nested is not None:
        nested.run_id = tracker.run_id
        if nested.on_created is not None:
            nested.on_created(tracker.run_id)
    return tracker


def _start(
    tracker: MlflowRun,
    recipe: Recipe,
    prepared: Prepared,
    workdir: Path,
    resume: Resume | None,
    say: Say | None,
    where: str,
) -> None:
    """A new run records its params and inputs (a resumed one has them); a top-level run says where it is."""
    if resume is None:
        log_start(tracker, recipe, prepared.datamodule, prepared.n_params, workdir)
    if say is not None:
        say(f"{'resuming run' if resume else 'run'} {tracker.run_id} {where}")


def _tester(trainer: L.Trainer, t: Trainer, workdir: Path) -> L.Trainer | None:
    """The trainer that tests: the same one on one process; after distributed training, a one-device
    trainer on rank 0 (the process group is over) and None on the other ranks."""
    if trainer.world_size == 1:
        return trainer
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    return make_trainer(t, [], workdir, False, single=True) if trainer.is_global_zero else None


def _test(trainer: L.Trainer, prepared: Prepared, best: str | None) -> tuple[dict[str, float], dict[str, float]]:
    """The test metrics of the chosen checkpoint, and the model's size and latency."""
    trainer.test(prepared.task, datamodule=prepared.datamodule, ckpt_path=best, verbose=False)
    test_metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    model_metrics = {m.MODEL_PARAMS: float(prepared.n_params)}
    latency = _latency_ms(trainer, prepared.task, prepared.datamodule)
    if latency is not None:
        model_metrics[m.MODEL_LATENCY_MS] = latency
    return test_metrics, model_metrics


def _latency_ms(trainer: L.Trainer, task: Any, datamodule: Any, repeats: int = 5) -> float | None:
    """Inference time per sample in milliseconds: the median of a few passes over one test batch, in the
    trainer's precision (inputs converted and autocast as in its test step)."""
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


def _store_model(
    tracker: MlflowRun, recipe: Recipe, info: Any, best: str | None, artifact_dir: Path | None, example: Any, step: int
) -> str | None:
    """The best checkpoint (when the store's artifacts are not this machine's folder) and the logged model
    (`example`: its input example, None when the run logs no model); returns the model's id."""
    if best is None:
        return None
    if recipe.tracking.log_checkpoint and artifact_dir is None:
        tracker.log_artifact(Path(best), "checkpoints")
    if example is None:
        return None
    model_id = log_model(tracker, Path(best), recipe, info, example, step)
    tracker.set_tags({"dlkit.model": model_uri(model_id)})
    return model_id


def _end_stopped(
    e: KeyboardInterrupt | SystemExit, tracker: MlflowRun | None, recorder: EpochRecorder, graceful: GracefulInterrupt
) -> None:
    """Ctrl-C or SIGTERM: the run ends KILLED and the error says how to continue it; any other exit returns."""
    if tracker is not None:
        tracker.end("KILLED", "interrupted")
    if not (recorder.interrupted or isinstance(e, (KeyboardInterrupt, SIGTERMException))):
        return
    done = len(recorder.history)
    how = f"continue it with: dlkit train --resume {tracker.run_id}" if tracker and done else "start it again"
    if graceful.received == signal.SIGINT or isinstance(e, KeyboardInterrupt):
        raise Interrupted(f"interrupted after {done} epoch(s); the run is marked KILLED; {how}") from None
    raise Terminated(f"stopped by SIGTERM after {done} epoch(s); the run is marked KILLED; {how}") from None


def _end_failed(e: Exception, tracker: MlflowRun | None, nested: Nested | None) -> None:
    """An exception the owner stops on (a pruned trial) ends the run FINISHED and returns; any other ends
    it FAILED and is raised as a dlkit error."""
    if nested is not None and isinstance(e, nested.stop_on):
        if tracker is not None:
            tracker.end("FINISHED")
        return
    if tracker is not None:
        message = e.message if isinstance(e, DlkitError) else f"{type(e).__name__}: {e}"
        tracker.end("FAILED", message, getattr(e, "failure_code", None))
    if isinstance(e, DlkitError):
        return
    first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
    raise TrainingFailed(
        f"training failed: {type(e).__name__}: {first_line}", hint="rerun with --debug for the traceback"
    ) from e
