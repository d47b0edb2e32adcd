"""Forecasting: regression over future steps, always compared with the naive last-value forecast."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError

from dlkit import metric_names as m
from dlkit.data.info import DataInfo
from dlkit.recipe.schema import Recipe
from dlkit.tasks.regression import RegressionTask


class ForecastingTask(RegressionTask):
    """Predicts `horizon` future steps; logs the naive forecast's errors beside the model's."""

    level_shift: torch.Tensor
    level_scale: torch.Tensor

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        self.target_features = list(info.target_features)
        self.horizon = info.horizon
        self.val_naive = MeanSquaredError()
        self.test_naive_mse = MeanSquaredError()
        self.test_naive_mae = MeanAbsoluteError()
        pre = info.preprocessing
        # inputs are scaled levels: the naive forecast (and, predicting changes, the offset) reads them back
        level_shift, level_scale = pre.get("level_shift", info.target_mean), pre.get("level_scale", info.target_std)
        self.register_buffer("level_shift", torch.tensor(level_shift, dtype=torch.float32), persistent=False)
        self.register_buffer("level_scale", torch.tensor(level_scale, dtype=torch.float32), persistent=False)
        self.difference = pre.get("target_mode") == "difference"

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """<target>_t+<h> for each forecast step h and target."""
        targets = self.info.preprocessing.get("targets", ["value"])
        columns = {}
        for j in range(out.shape[1]):
            h, t = divmod(j, len(targets))
            columns[f"{targets[t]}_t+{h + 1}"] = out[:, j]
        return columns

    def naive(self, x: torch.Tensor) -> torch.Tensor:
        """The last observed value of each target, repeated over the horizon, in the target's units."""
        last = x[:, -1, self.target_features].repeat(1, self.horizon)
        return last * self.level_scale + self.level_shift

    def offset(self, x: torch.Tensor) -> torch.Tensor | float:
        """Predicting changes, the network's outputs are relative to the last observed value."""
        return self.naive(x) if self.difference else 0.0

    def update_val_extras(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.val_naive.update(self.naive(x).flatten(), y.flatten())

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        values = super().compute_val_metrics()
        values[m.VAL_RMSE_NAIVE] = self.val_naive.compute().sqrt()
        self.val_naive.reset()
        return values

    def update_test_extras(self, x: torch.Tensor, y: torch.Tensor) -> None:
        naive = self.naive(x).flatten()
        self.test_naive_mse.update(naive, y.flatten())
        self.test_naive_mae.update(naive, y.flatten())

    def compute_test_extras(self) -> dict[str, torch.Tensor]:
        values = {
            m.TEST_RMSE_NAIVE: self.test_naive_mse.compute().sqrt(),
            m.TEST_MAE_NAIVE: self.test_naive_mae.compute(),
        }
        self.test_naive_mse.reset()
        self.test_naive_mae.reset()
        return values
