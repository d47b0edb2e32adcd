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

from dlkit.errors import NonFiniteLoss
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

    #: epochs up to this one are already in MLflow (a resumed run that died after logging them)
    logged_through: int = -1

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # a resumed fit starts with no history; testing the best checkpoint must not rewind this one
        if not self.history:
            self.history = list(state_dict.get("history", []))

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
        if self.tracker is not None and epoch > self.logged_through:
            self._send(epoch, values)
            self._log_task_artifacts(epoch, pl_module)
        if self.report is not None:
            self.report(epoch, values)

    def _send(self, epoch: int, values: dict[str, float]) -> None:
        """One epoch's metrics, sent in the background (the training thread does not wait for the store)."""
        assert self.tracker is not None
        self.tracker.log_metrics(
            {k: v for k, v in values.items() if math.isfinite(v)},
            step=epoch + 1,  # epochs count from 1 everywhere: terminal, plots, MLflow steps
            tags={"dlkit.heartbeat": f"{time.time():.0f}"},  # `dlkit runs ls` tells a dead run from a live one
            background=True,
        )
        self.logged_through = epoch

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A resumed run first sends the epochs its checkpoint holds but the store does not (a process
        killed between the checkpoint and the metrics reaching the store)."""
        if self.tracker is None or not trainer.is_global_zero:
            return
        for row in self.history:
            epoch = int(row["epoch"])
            if epoch > self.logged_through:
                self._send(epoch, {k: v for k, v in row.items() if k != "epoch"})

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


class NonFiniteGuard(Callback):
    """Stops training when the loss becomes NaN or infinite, naming the epoch and step.

    The check stays on the device while the epoch runs (no host synchronisation per step): each
    step's loss is kept, and the losses are checked in one reduction before validation and at the
    end of the epoch, so no checkpoint is ever written from non-finite weights.
    """

    def __init__(self) -> None:
        self.losses: list[Any] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.losses = []

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        import torch

        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):  # a scalar, or one loss per step of a StepGroup
            self.losses.append(loss.detach().reshape(-1))

    def _check(self, trainer: L.Trainer) -> None:
        import torch

        if not self.losses or trainer.sanity_checking:
            return
        bad = (~torch.isfinite(torch.cat(self.losses))).nonzero()
        if len(bad):
            step = int(bad[0, 0])
            raise NonFiniteLoss(
                f"the training loss became NaN or infinite at epoch {trainer.current_epoch + 1}, step {step + 1}",
                hint="lower optim.lr, set trainer.gradient_clip_val, or check the data for extreme values",
            )

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)


class GracefulInterrupt:
    """While training: Ctrl-C or SIGTERM asks Lightning to stop after the current step; a second Ctrl-C
    interrupts at once. (Outside training, the CLI turns SIGTERM into an immediate, clean stop.)"""

    def __init__(self, trainer: L.Trainer) -> None:
        self.trainer = trainer
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        import signal

        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signum
        self.trainer._signal_connector.received_sigterm = True  # Lightning then stops after the current step

    def __enter__(self) -> GracefulInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
