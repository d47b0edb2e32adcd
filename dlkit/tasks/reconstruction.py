"""Reconstruction: an autoencoder rebuilds its (optionally noised) input; per-sample errors are anomaly scores.

The anomaly threshold is a quantile of the validation scores of the best model; when
classes are marked as anomalies, the test split reports detection precision, recall,
F1 and AUROC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from dlkit import metric_names as m
from dlkit import reports
from dlkit.data.info import DataInfo
from dlkit.recipe.schema import Recipe
from dlkit.recipe.tasks import ReconstructionParams
from dlkit.schema_base import section
from dlkit.tasks.base import Task


class ReconstructionTask(Task):
    """Autoencoder training; anomaly scores, threshold and detection metrics on the test split."""

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        params = section(recipe.task, ReconstructionParams)
        self.loss_name = params.loss
        self.noise_std = params.noise_std
        self.quantile = params.threshold_quantile
        names = info.class_names or []
        self.anomaly_codes = [names.index(c) for c in params.anomaly_classes if c in names]
        self.val_mse = MeanMetric()
        self.test_mse = MeanMetric()
        self.test_mae = MeanMetric()
        self.threshold = float("nan")
        self.test_outputs: dict[str, torch.Tensor] = {}
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._examples: tuple[torch.Tensor, torch.Tensor] | None = None

    @staticmethod
    def scores(output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Mean squared reconstruction error of each sample."""
        return ((output.float() - x.float()) ** 2).flatten(1).mean(dim=1)

    explains: ClassVar[bool] = False
    tests_with_validation: ClassVar[bool] = True  # the anomaly threshold is a quantile of validation scores

    def predict_outputs(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(self.backbone(x), x)

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """anomaly_score: the mean squared reconstruction error."""
        return {"anomaly_score": out[:, 0]}

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "mae":
            return F.l1_loss(output, target)
        return F.mse_loss(output, target)

    def training_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, _ = batch
        noisy = x + torch.randn_like(x) * self.noise_std if self.noise_std else x
        loss = self.loss(self.backbone(noisy), x)
        self.train_loss.update(loss, len(x))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, _ = batch
        out = self.backbone(x)
        self.val_loss.update(self.loss(out, x), len(x))
        self.val_mse.update(self.scores(out, x))

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        value = self.val_mse.compute()
        self.val_mse.reset()
        return {m.VAL_MSE: value}

    @torch.no_grad()
    def _validation_scores(self) -> torch.Tensor:
        """Anomaly scores of the validation split, in the trainer's precision as in its own steps."""
        precision = self.trainer.precision_plugin
        scores = []
        for x, _ in self.trainer.datamodule.val_dataloader():  # type: ignore[attr-defined]
            x = precision.convert_input(x.to(self.device))
            with precision.forward_context():
                scores.append(self.scores(self.backbone(x), x))
        return torch.cat(scores)

    def on_test_epoch_start(self) -> None:
        self.threshold = float(torch.quantile(self._validation_scores().cpu(), self.quantile))
        self._scores, self._labels, self._examples = [], [], None

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        out = self.backbone(x)
        self.test_loss.update(self.loss(out, x), len(x))
        score = self.scores(out, x)
        self.test_mse.update(score)
        self.test_mae.update((out.float() - x.float()).abs().flatten(1).mean(dim=1))
        self._scores.append(score.detach())
        self._labels.append(y)
        if self._examples is None:
            self._examples = (x[:8].detach().float().cpu(), out[:8].detach().float().cpu())

    def on_test_epoch_end(self) -> None:
        scores = torch.cat(self._scores).cpu()
        labels = torch.cat(self._labels).cpu()
        values: dict[str, Any] = {
            m.TEST_LOSS: self.test_loss.compute_and_reset(),
            m.TEST_MSE: self.test_mse.compute(),
            m.TEST_MAE: self.test_mae.compute(),
            m.TEST_ANOMALY_THRESHOLD: torch.tensor(self.threshold),
        }
        self.test_mse.reset()
        self.test_mae.reset()
        if self.anomaly_codes:
            from torchmetrics.functional.classification import (
                binary_auroc,
                binary_f1_score,
                binary_precision,
                binary_recall,
            )

            truth = torch.isin(labels, torch.tensor(self.anomaly_codes)).long()
            flagged = (scores > self.threshold).long()
            values[m.TEST_ANOMALY_PRECISION] = binary_precision(flagged, truth)
            values[m.TEST_ANOMALY_RECALL] = binary_recall(flagged, truth)
            values[m.TEST_ANOMALY_F1] = binary_f1_score(flagged, truth)
            values[m.TEST_ANOMALY_AUROC] = binary_auroc(scores, truth)
        self.log_epoch(values, prog_bar=False)
        self.test_outputs = {"scores": scores, "labels": labels}

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        scores = self.test_outputs["scores"].numpy()
        labels = self.test_outputs["labels"].numpy()
        names = self.info.class_names or []
        reports.write_anomalies(
            folder,
            test_index,
            scores,
            self.threshold,
            [names[c] for c in labels] if names else None,
            [names[c] for c in self.anomaly_codes],
        )
        if self._examples is not None:
            reports.reconstructions(
                self._examples[0].numpy(), self._examples[1].numpy(), folder / "reconstructions.png"
            )
