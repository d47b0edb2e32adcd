"""The live line a run shows on a terminal: epoch k of N, the epoch's steps, time left for the whole
run, the monitored validation metric and its best so far, on one line at any width.

It is Lightning's progress bar (a `ProgressBar` callback, so Lightning adds no other); piped output
gets the plain per-epoch lines of `callbacks.epoch_line` instead.
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar

from dlkit.data.batches import StepGroup, TensorBatches
from dlkit.numbers import clock


class LiveLine(ProgressBar):
    """One line, redrawn in place a few times a second; the last state stays on screen."""

    def __init__(self, max_epochs: int, monitor: str, mode: str, console: Any = None) -> None:
        super().__init__()
        self.max_epochs = max_epochs
        self.monitor = monitor
        self.direction = mode
        self.console = console
        self._live: Any = None
        self._enabled = True
        self._start = 0.0
        self._first_epoch = 0
        self._steps_done = 0
        self._epoch_step = 0
        self._phase = "train"
        self._steps_per_epoch = 0
        self._epoch = 1  # the epoch running, from 1 (Lightning's counter moves past the last one when fit ends)
        self._ended: float | None = None  # seconds the fit took, once it is over
        self.current: float | None = None
        self.best: tuple[float, int] | None = None  # value, epoch (from 1)

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    # what is drawn
    def line(self, width: int) -> str:
        """The text of the line for a terminal `width` columns wide (never longer)."""
        epoch = self._epoch
        steps = self._steps_per_epoch
        head = f"epoch {epoch}/{self.max_epochs}"
        where = f"{min(self._epoch_step, steps)}/{steps} steps" if steps else f"{self._epoch_step} steps"
        if self._phase == "val":
            where = "validating"
        parts = [f"done in {clock(self._ended)}"] if self._ended is not None else [where, self._left(steps)]
        if self.current is not None:
            parts.append(f"{self.monitor} {self.current:.4f}")
        if self.best is not None:
            parts.append(f"best {self.best[0]:.4f} (epoch {self.best[1]})")
        tail = " · ".join(p for p in parts if p)
        room = width - len(head) - len(tail) - 2
        bar = self._bar(min(30, room), epoch, steps) if room >= 8 else ""
        text = f"{head} {bar} {tail}" if bar else f"{head} {tail}"
        return text if len(text) <= width else text[: max(0, width - 1)] + "…"

    def _bar(self, width: int, epoch: int, steps: int) -> str:
        done = (epoch - 1 + (self._epoch_step / steps if steps else 0.0)) / max(self.max_epochs, 1)
        filled = round(min(1.0, done) * width)
        return "━" * filled + "╺" + "─" * max(0, width - filled - 1) if filled < width else "━" * width

    def _left(self, steps: int) -> str:
        """Time left for the whole run (to max_epochs; early stopping may end it sooner)."""
        if not steps or self._steps_done == 0:
            return ""
        elapsed = time.perf_counter() - self._start
        total = (self.max_epochs - self._first_epoch) * steps
        remaining = max(0, total - self._steps_done)
        return f"{clock(elapsed / self._steps_done * remaining)} left"

    def _draw(self, now: bool = False) -> None:
        """Update the line; the screen follows at the refresh rate, or at once with `now` (each epoch's end)."""
        if self._live is None:
            return
        from rich.text import Text

        width = self._live.console.width
        self._live.update(Text(self.line(width), no_wrap=True, overflow="ellipsis"), refresh=now)

    # Lightning hooks
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._enabled or not trainer.is_global_zero:
            return
        from rich.console import Console
        from rich.live import Live

        self._start = time.perf_counter()
        self._first_epoch = trainer.current_epoch  # a resumed run starts past 0
        self._epoch = trainer.current_epoch + 1
        self._steps_per_epoch = self._optimizer_steps(trainer)
        self._live = Live(console=self.console or Console(), refresh_per_second=4, transient=False)
        self._live.start()
        self._draw()

    def _optimizer_steps(self, trainer: L.Trainer) -> int:
        """Optimisation steps per epoch: a Lightning step may run a group of batches (trainer.steps_per_call)."""
        calls = self.total_train_batches
        if not isinstance(calls, int | float) or not math.isfinite(calls):
            return 0
        loader = trainer.train_dataloader
        if isinstance(loader, TensorBatches):
            return min(loader.steps_per_epoch(), int(calls) * loader.group)
        return int(calls)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_step = 0
        self._epoch = trainer.current_epoch + 1
        self._phase = "train"
        self._draw()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        done = len(batch) if isinstance(batch, StepGroup) else 1
        self._epoch_step += done
        self._steps_done += done
        self._draw()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._phase = "val"
            self._draw()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._phase = "train"
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            self.current = float(value)
            better = self.best is None or (
                self.current < self.best[0] if self.direction == "min" else self.current > self.best[0]
            )
            if better and math.isfinite(self.current):
                self.best = (self.current, trainer.current_epoch + 1)
        self._draw(now=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._stop()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._live is not None:
            self._ended = time.perf_counter() - self._start
            self._draw()
            self._live.refresh()
            self._live.stop()
            self._live = None
