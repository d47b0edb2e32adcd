"""What every task shares: optimiser and schedule, L1 penalty, epoch-level loss bookkeeping.

Losses and metrics accumulate on the device during the epoch and are read and
logged once at its end: no host synchronisation per step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics import Metric

from dlkit import metric_names as m
from dlkit.data.batches import StepGroup
from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.recipe.schema import Recipe
from dlkit.tasks.optimizers import make_optimizer
from dlkit.tasks.random_state import rng_state, set_rng_state


class LossMeter(Metric):
    """Sample-weighted mean of a loss over an epoch, kept on the device: the sum of each batch's mean loss
    times its rows, over the rows. (torchmetrics' MeanMetric ignores its weights unless it checks every
    value for NaN, which reads each step back to the host.)

    Nothing is read back to the host before the epoch's end (the NaN guard checks the epoch's losses at
    once), and under DDP the sums cover every process's samples.
    """

    full_state_update = False
    total: torch.Tensor
    rows: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.zeros(()), dist_reduce_fx="sum")
        self.add_state("rows", torch.zeros(()), dist_reduce_fx="sum")

    def update(self, loss: torch.Tensor, n: int) -> None:  # type: ignore[override]
        self.total += loss.detach().float() * n
        self.rows += n

    def compute(self) -> torch.Tensor:
        return self.total / self.rows

    def compute_and_reset(self) -> torch.Tensor:
        """The epoch's mean (0 for an epoch without a batch), and a fresh start for the next."""
        value = self.compute() if self.update_count else torch.zeros((), device=self.device)
        self.reset()
        return value


class Task(L.LightningModule):
    """Base LightningModule: subclasses define `loss`, the metric updates and the epoch-end logs."""

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.recipe = recipe
        self.info = info
        self.train_loss = LossMeter()
        self.val_loss = LossMeter()
        self.test_loss = LossMeter()
        self._l1 = recipe.optim.l1
        #: plain data saved in every checkpoint (recipe, data description, run id): set by the runner
        self.checkpoint_meta: dict[str, Any] = {}
        #: test the checkpoint that was best on trainer.monitor (else the last one)
        self.select_best = True
        self.automatic_optimization = False  # see optimize()
        self._per_step_schedule = recipe.optim.scheduler.name == "onecycle"

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.checkpoint_meta:
            checkpoint["dlkit"] = self.checkpoint_meta
        checkpoint["dlkit_rng"] = rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A resumed run continues the random streams where the interrupted one left them."""
        if "dlkit_rng" in checkpoint:
            set_rng_state(checkpoint["dlkit_rng"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)  # type: ignore[no-any-return]

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def infer(self, batch: Any) -> torch.Tensor:
        """What serving one batch computes (timed for model/latency_ms)."""
        return self(batch[0])  # type: ignore[no-any-return]

    #: whether the task predicts new data (`dlkit predict`, the MLflow model); a generator does not
    predicts: ClassVar[bool] = True
    #: whether `dlkit explain` attributes its outputs to the inputs
    explains: ClassVar[bool] = True
    #: whether testing needs the validation split too (a threshold fitted on validation scores)
    tests_with_validation: ClassVar[bool] = False

    def calibrate_checkpoint(self, checkpoint: Path, val_batches: Any) -> tuple[list[str], dict[str, float]]:
        """After fit: fit what the task calibrates on the validation split into `checkpoint` (nothing by
        default); lines to print, and model metrics to log."""
        return [], {}

    def explained_outputs(self, outputs: torch.Tensor, target: str | None) -> torch.Tensor:
        """The output index `dlkit explain` attributes for each sample: the first output by default."""
        return torch.zeros(len(outputs), dtype=torch.long, device=outputs.device)

    def predict_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the prediction table is made from, for a batch of inputs: one row per sample."""
        return self.predict_step((x,), 0).float()  # type: ignore[no-any-return]

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """The prediction table's columns for `predict_outputs` of many samples (after the row ids)."""
        raise NotImplementedError(f"{type(self).__name__} predicts nothing")

    def ranked_columns(self, raw: Any, top: int | None) -> dict[str, list[Any]]:
        """The best `top` items of each user of `raw` (RawInputs), as table columns: what a recommender
        answers; every other task ranks nothing."""
        raise BadInput(f"--top: a {self.recipe.task.kind} run does not rank items; only recommendation runs do")

    def serving_params(self) -> dict[str, Any]:
        """Parameters the MLflow model takes beside its rows, with their defaults (none by default)."""
        return {}

    def optional_inputs(self) -> list[str]:
        """Input columns the MLflow model may be sent without (none by default)."""
        return []

    def output_names(self, width: int) -> list[str]:
        """A name for each of `predict_outputs`' columns (an exported graph's outputs, in its model card)."""
        return list(self.prediction_columns(np.zeros((1, width))))

    def export_score(self, out: np.ndarray, y: np.ndarray) -> tuple[str, float] | None:
        """The key test metric of outputs `out` against targets `y` (what quantizing an export changes)."""
        return None

    def scored_test(self) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """The last test's targets and outputs, row by row, for metrics by group: (targets, class probabilities,
        True) or (targets, predictions, False); None for a task without such scores."""
        return None

    def _l1_penalty(self) -> torch.Tensor:
        return sum(
            (p.abs().sum() for p in self.backbone.parameters() if p.ndim > 1), torch.zeros((), device=self.device)
        )

    def training_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The task's loss on one training batch (recorded in train_loss), before the L1 penalty."""
        x, y = batch
        loss = self.loss(self.backbone(x), y)
        self.train_loss.update(loss, len(y))
        return loss

    #: whether the training loader may hand this task several batches per step (StepGroup)
    groups_steps: bool = True

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One optimisation step per batch; a StepGroup of K batches runs K steps and returns their K losses."""
        if isinstance(batch, StepGroup):
            return torch.stack([self._step(b) for b in batch])
        return self._step(batch)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        loss = self.training_loss(batch)
        if self._l1:
            loss = loss + self._l1 * self._l1_penalty()
        self.optimize(loss)
        return loss.detach()

    def optimize(self, loss: torch.Tensor) -> None:
        """One optimisation step, written out with Lightning's manual optimisation (no closure per step):
        zero, backward and clipping through the strategy and precision plugin, then the step."""
        wrapper: Any = self.optimizers()
        t = self.recipe.trainer
        wrapper.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if t.gradient_clip_val:
            self.clip_gradients(
                wrapper, gradient_clip_val=t.gradient_clip_val, gradient_clip_algorithm=t.gradient_clip_algorithm
            )
        wrapper.step()
        if self._per_step_schedule:
            self.lr_schedulers().step()  # type: ignore[union-attr]

    def on_train_epoch_end(self) -> None:
        """Epoch-interval schedules step here, after validation, as under automatic optimisation."""
        scheduler = self.lr_schedulers()
        if scheduler is None or isinstance(scheduler, list) or self._per_step_schedule:
            return
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            value = self.trainer.callback_metrics.get(self.recipe.trainer.monitor)
            if value is not None:  # validation did not run this epoch (check_val_every_n_epoch)
                scheduler.step(value)
        else:
            scheduler.step()  # type: ignore[union-attr]

    def log_epoch(self, values: dict[str, torch.Tensor], prog_bar: bool = True) -> None:
        """Log epoch-level values (one call, no per-step logging); shown on the progress bar by default."""
        self.log_dict(values, on_step=False, on_epoch=True, sync_dist=True, prog_bar=prog_bar)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        values = {m.TRAIN_LOSS: self.train_loss.compute_and_reset(), m.VAL_LOSS: self.val_loss.compute_and_reset()}
        values.update(self.compute_val_metrics())
        self.log_epoch(values)

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        """Write the test-split files of this task (predictions, figures) into `folder`."""
        raise NotImplementedError

    def _total_steps(self) -> int:
        """Optimisation steps of the whole fit (Lightning counts a StepGroup as one)."""
        estimated = int(self.trainer.estimated_stepping_batches)  # also sets up the training loader
        loader = self.trainer.train_dataloader
        per_epoch = getattr(loader, "steps_per_epoch", None)
        return per_epoch() * self.trainer.max_epochs if callable(per_epoch) else estimated

    def configure_optimizers(self) -> Any:
        o = self.recipe.optim
        optimizer = make_optimizer(self.parameters(), o, o.lr)
        s = o.scheduler
        if s.name == "none":
            return optimizer
        sched = torch.optim.lr_scheduler
        trainer = self.recipe.trainer
        schedulers = {
            "step": lambda: {"scheduler": sched.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)},
            "cosine": lambda: {
                "scheduler": sched.CosineAnnealingLR(optimizer, T_max=trainer.max_epochs, eta_min=s.min_lr)
            },
            "plateau": lambda: {
                "scheduler": sched.ReduceLROnPlateau(
                    optimizer,
                    mode=trainer.resolved_monitor_mode(),
                    factor=s.gamma,
                    patience=s.patience,
                    min_lr=s.min_lr,
                ),  # stepped with trainer.monitor's value in on_train_epoch_end
            },
            "onecycle": lambda: {
                "scheduler": sched.OneCycleLR(
                    optimizer, max_lr=o.lr, total_steps=self._total_steps(), pct_start=s.pct_start
                ),
                "interval": "step",
            },
        }
        return {"optimizer": optimizer, "lr_scheduler": schedulers[s.name]()}
