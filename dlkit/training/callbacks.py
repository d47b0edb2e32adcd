"""Callbacks: per-epoch recording (one batched MLflow call per epoch) and plain progress lines."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from dlkit.tracking.mlflow_run import MlflowRun


class EpochRecorder(Callback):
    """Reads the epoch's train/val metrics once, keeps the history, sends them to MLflow in one call."""

    def __init__(
        self, tracker: MlflowRun | None, train_rows: int, report: Callable[[int, dict[str, float]], None] | None
    ) -> None:
        self.tracker = tracker
        self.train_rows = train_rows
        self.report = report
        self.history: list[dict[str, float]] = []
        self.interrupted = False
        self._epoch_start = 0.0
        self._train_seconds: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()
        self._train_seconds = None

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._epoch_start

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        values = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train/", "val/"))}
        if trainer.optimizers:
            values["train/lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        train_seconds = self._train_seconds or (time.perf_counter() - self._epoch_start)
        if train_seconds > 0:
            values["perf/train_samples_per_sec"] = self.train_rows / train_seconds
        values["perf/epoch_seconds"] = time.perf_counter() - self._epoch_start
        self.history.append({"epoch": float(epoch), **values})
        if not trainer.is_global_zero:
            return
        if self.tracker is not None:
            self.tracker.log_metrics({k: v for k, v in values.items() if math.isfinite(v)}, step=epoch)
            self._log_task_artifacts(epoch, pl_module)
        if self.report is not None:
            self.report(epoch, values)

    def _log_task_artifacts(self, epoch: int, pl_module: L.LightningModule) -> None:
        """Files a task makes during training (e.g. a GAN's sample grids), logged under samples/."""
        make = getattr(pl_module, "epoch_artifacts", None)
        if make is None or self.tracker is None:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for path in make(epoch, Path(tmp)):
                self.tracker.log_artifact(path, "samples")

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.interrupted = isinstance(exception, KeyboardInterrupt)


def epoch_line(max_epochs: int, monitor: str, emit: Callable[[str], None]) -> Callable[[int, dict[str, float]], None]:
    """A reporter printing one plain line per epoch (for logs and pipes)."""
    width = len(str(max_epochs))

    def report(epoch: int, values: dict[str, float]) -> None:
        keys = (
            ["train/loss", "val/loss", monitor]
            if monitor not in ("val/loss", "train/loss")
            else ["train/loss", "val/loss"]
        )
        shown = "  ".join(f"{k} {values[k]:.4f}" for k in keys if k in values)
        emit(f"epoch {epoch + 1:>{width}}/{max_epochs}  {shown}  ({values.get('perf/epoch_seconds', 0):.1f} s)")

    return report


class UnfreezeAt(Callback):
    """Lets frozen parameters train from a given epoch on (gradual fine-tuning)."""

    def __init__(self, epoch: int, params: list[Any]) -> None:
        self.epoch = epoch
        self.params = params

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            for param in self.params:
                param.requires_grad = True
