"""Regression: mse/mae/huber loss on standardised (or log1p) targets, metrics in the target's own units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from dlkit import metric_names as m
from dlkit import reports
from dlkit.data.info import DataInfo
from dlkit.recipe.schema import Recipe
from dlkit.recipe.tasks import PointLossParams
from dlkit.schema_base import section
from dlkit.tasks.base import Task


class RegressionTask(Task):
    """Predicts continuous targets; the network sees targets standardised with training statistics."""

    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        params = section(recipe.task, PointLossParams)
        self.loss_name = params.loss
        self.huber_delta = params.huber_delta
        self.log_target = params.target_scaling == "log1p"
        mean, std = (info.target_mean, info.target_std) if params.target_scaling != "none" else (0.0, 1.0)
        self.register_buffer("target_mean", torch.tensor(mean, dtype=torch.float32), persistent=True)
        self.register_buffer("target_std", torch.tensor(std, dtype=torch.float32), persistent=True)
        self.val_metrics = MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError()})
        self.test_metrics = MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "r2": R2Score()})
        self.test_outputs: dict[str, torch.Tensor] = {}
        self._preds: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def offset(self, x: torch.Tensor) -> torch.Tensor | float:
        """What the network's outputs are relative to (0: the target itself; forecasting: the last value)."""
        return 0.0

    def training_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        loss = self.loss(self.backbone(x), y, x)
        self.train_loss.update(loss, len(y))
        return loss

    def loss(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        fitted = torch.log1p(target) if self.log_target else target
        if x is not None:
            fitted = fitted - self.offset(x)
        scaled = (fitted - self.target_mean) / self.target_std
        if self.loss_name == "mae":
            return F.l1_loss(output, scaled)
        if self.loss_name == "huber":
            return F.huber_loss(output, scaled, delta=self.huber_delta)
        return F.mse_loss(output, scaled)

    def predict_values(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Network outputs back in the target's units."""
        value = output * self.target_std + self.target_mean
        return (torch.expm1(value) if self.log_target else value) + self.offset(x)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        out = self.backbone(x)
        self.val_loss.update(self.loss(out, y, x), len(y))
        self.val_metrics.update(self.predict_values(out, x).flatten(), y.flatten())
        self.update_val_extras(x, y)

    def update_val_extras(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Hook for subclasses that track more validation metrics."""

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        return {m.VAL_RMSE: values["mse"].sqrt(), m.VAL_MAE: values["mae"]}

    def on_test_epoch_start(self) -> None:
        self._preds, self._targets = [], []

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        out = self.backbone(x)
        self.test_loss.update(self.loss(out, y, x), len(y))
        pred = self.predict_values(out, x)
        self.test_metrics.update(pred.flatten(), y.flatten())
        self.update_test_extras(x, y)
        self._preds.append(pred.detach().float())  # bf16 under bf16 precisions: reports need float32
        self._targets.append(y.float())

    def update_test_extras(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Hook for subclasses that track more test metrics."""

    def compute_test_extras(self) -> dict[str, torch.Tensor]:
        return {}

    def on_test_epoch_end(self) -> None:
        values = self.test_metrics.compute()
        self.test_metrics.reset()
        self.log_epoch(
            {
                m.TEST_LOSS: self.test_loss.compute_and_reset(),
                m.TEST_MSE: values["mse"],
                m.TEST_RMSE: values["mse"].sqrt(),
                m.TEST_MAE: values["mae"],
                m.TEST_R2: values["r2"],
                **self.compute_test_extras(),
            },
            prog_bar=False,
        )
        self.test_outputs = {"pred": torch.cat(self._preds).cpu(), "target": torch.cat(self._targets).cpu()}
        self._preds, self._targets = [], []

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        return self.predict_values(self.backbone(x), x)

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """prediction (prediction_<i> for several targets), in the target's units."""
        if out.shape[1] == 1:
            return {"prediction": out[:, 0]}
        return {f"prediction_{j}": out[:, j] for j in range(out.shape[1])}

    def export_score(self, out: np.ndarray, y: np.ndarray) -> tuple[str, float] | None:
        return "rmse", float(np.sqrt(np.mean((out - y.reshape(out.shape)) ** 2)))

    def scored_test(self) -> tuple[np.ndarray, np.ndarray, bool] | None:
        return self.test_outputs["target"].numpy(), self.test_outputs["pred"].numpy(), False

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        out = self.test_outputs
        reports.write_regression(folder, test_index, out["target"].numpy(), out["pred"].numpy())
