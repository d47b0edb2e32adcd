"""Binary and multiclass classification: cross-entropy, torchmetrics accuracy/precision/recall/F1/AUROC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassCalibrationError,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from dlkit import calibration, reports
from dlkit import metric_names as m
from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.checkpoints import read_checkpoint
from dlkit.recipe.schema import Recipe
from dlkit.recipe.tasks import ClassificationParams
from dlkit.schema_base import section
from dlkit.tasks import temperature
from dlkit.tasks.base import Task


class ClassificationTask(Task):
    """Cross-entropy with optional label smoothing and class weights."""

    class_weights: torch.Tensor | None
    #: divides the logits once fitted on the validation split (task.calibrate: temperature); else none
    temperature: torch.Tensor | None

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        assert info.class_names is not None
        k = len(info.class_names)
        self.num_classes = k
        params = section(recipe.task, ClassificationParams)
        self.label_smoothing = params.label_smoothing
        weights = self._class_weights(params.class_weights, info)
        self.register_buffer("class_weights", weights, persistent=False)
        # saved in the checkpoint only when calibrating: checkpoints of other runs keep loading as they are
        calibrating = params.calibrate == "temperature"
        self.register_buffer("temperature", torch.ones(()) if calibrating else None, persistent=calibrating)
        self.val_metrics = MetricCollection(
            {m.VAL_ACC: MulticlassAccuracy(k, average="micro"), m.VAL_F1_MACRO: MulticlassF1Score(k, average="macro")}
        )
        self.test_metrics = MetricCollection(
            {
                m.TEST_ACC: MulticlassAccuracy(k, average="micro"),
                m.TEST_PRECISION_MACRO: MulticlassPrecision(k, average="macro"),
                m.TEST_RECALL_MACRO: MulticlassRecall(k, average="macro"),
                m.TEST_F1_MACRO: MulticlassF1Score(k, average="macro"),
                m.TEST_F1_WEIGHTED: MulticlassF1Score(k, average="weighted"),
                "f1_per_class": MulticlassF1Score(k, average=None),
                "precision_per_class": MulticlassPrecision(k, average=None),
                "recall_per_class": MulticlassRecall(k, average=None),
                "confusion": MulticlassConfusionMatrix(k),
                m.TEST_ECE: MulticlassCalibrationError(k, n_bins=m.ECE_BINS, norm="l1"),
            }
        )
        self.test_auroc = MulticlassAUROC(k, average="macro")
        self.test_outputs: dict[str, torch.Tensor] = {}
        self._test_probs: list[torch.Tensor] = []
        self._test_targets: list[torch.Tensor] = []

    @staticmethod
    def _class_weights(spec: Any, info: DataInfo) -> torch.Tensor | None:
        k = len(info.class_names or [])
        if spec is None:
            return None
        if spec == "balanced":
            counts = torch.tensor(info.train_class_counts, dtype=torch.float32).clamp(min=1)
            return counts.sum() / (k * counts)
        if len(spec) != k:
            raise BadInput(
                f"task.class_weights has {len(spec)} values but the data has {k} classes ({', '.join(info.class_names or [])})"
            )
        return torch.tensor(spec, dtype=torch.float32)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target, weight=self.class_weights, label_smoothing=self.label_smoothing)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits, divided by the fitted temperature when the run calibrates."""
        logits = self.backbone(x)
        return logits if self.temperature is None else logits / self.temperature

    def calibrate_checkpoint(self, checkpoint: Path, val_batches: Any) -> tuple[list[str], dict[str, float]]:
        """Fit the temperature on the validation logits of `checkpoint`'s weights and write it into the
        checkpoint, which the test, predict and the logged model then read."""
        if self.temperature is None:
            return [], {}
        saved = read_checkpoint(checkpoint, "checkpoint")
        self.load_state_dict(saved["state_dict"])
        logits, target = temperature.validation_outputs(self, val_batches, self.num_classes)
        if len(target) == 0:
            return ["warning: task.calibrate: the validation split is empty; the temperature stays 1"], {}
        t = temperature.fit(logits, target)
        temperature.write_buffer(checkpoint, saved, "temperature", torch.tensor(t))
        self.temperature.fill_(t)
        before, after = temperature.ece_change(logits, target, t, m.ECE_BINS)
        note = f"calibration: temperature {t:.3f} fitted on the validation split (ECE {before:.4f} -> {after:.4f})"
        return [note], {m.MODEL_TEMPERATURE: t}

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_loss.update(self.loss(logits, y), len(y))
        self.val_metrics.update(logits, y)

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        return dict(values)

    def on_test_epoch_start(self) -> None:
        self._test_probs, self._test_targets = [], []

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.test_loss.update(self.loss(logits, y), len(y))
        self.test_metrics.update(logits, y)
        probs = logits.float().softmax(dim=-1)
        self.test_auroc.update(probs, y)
        self._test_probs.append(probs.detach())
        self._test_targets.append(y)

    def on_test_epoch_end(self) -> None:
        values = self.test_metrics.compute()
        self.test_metrics.reset()
        names = self.info.class_names or []
        out: dict[str, torch.Tensor] = {m.TEST_LOSS: self.test_loss.compute_and_reset()}
        for key in (
            m.TEST_ACC, m.TEST_PRECISION_MACRO, m.TEST_RECALL_MACRO, m.TEST_F1_MACRO, m.TEST_F1_WEIGHTED, m.TEST_ECE,
        ):  # fmt: skip
            out[key] = values[key]
        for prefix, key in (
            (m.TEST_F1_CLASS_PREFIX, "f1_per_class"),
            (m.TEST_PRECISION_CLASS_PREFIX, "precision_per_class"),
            (m.TEST_RECALL_CLASS_PREFIX, "recall_per_class"),
        ):
            for i, name in enumerate(names):
                out[m.per_class(prefix, name)] = values[key][i]
        out[m.TEST_ROC_AUC] = self.test_auroc.compute()
        self.test_auroc.reset()
        self.log_epoch(out, prog_bar=False)
        probs = torch.cat(self._test_probs).cpu() if self._test_probs else torch.empty(0, self.num_classes)
        target = torch.cat(self._test_targets).cpu() if self._test_targets else torch.empty(0, dtype=torch.long)
        self.test_outputs = {"probs": probs, "target": target, "confusion": values["confusion"].cpu()}
        self._test_probs, self._test_targets = [], []

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        return self(x).float().softmax(dim=-1)

    def explained_outputs(self, outputs: torch.Tensor, target: str | None) -> torch.Tensor:
        """The predicted class of each sample, or the class named by `--target`."""
        names = self.info.class_names or []
        if target is None:
            return outputs.argmax(dim=-1)
        if target not in names:
            raise BadInput(f"--target '{target}' is not a class of this run ({', '.join(names[:10])})")
        return torch.full((len(outputs),), names.index(target), dtype=torch.long, device=outputs.device)

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """prediction (the class name), probability (of that class), prob_<class> for every class."""
        names = self.info.class_names or []
        best = out.argmax(axis=1)
        columns: dict[str, Any] = {
            "prediction": [names[i] for i in best],
            "probability": out[np.arange(len(out)), best],
        }
        for i, name in enumerate(names):
            columns[f"prob_{name}"] = out[:, i]
        return columns

    def output_names(self, width: int) -> list[str]:
        return [f"prob_{name}" for name in self.info.class_names or []]

    def export_score(self, out: np.ndarray, y: np.ndarray) -> tuple[str, float] | None:
        return "accuracy", float((out.argmax(axis=1) == y.reshape(-1)).mean())

    def scored_test(self) -> tuple[np.ndarray, np.ndarray, bool] | None:
        return self.test_outputs["target"].numpy(), self.test_outputs["probs"].numpy(), True

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        out = self.test_outputs
        reports.write_classification(
            folder, test_index, out["target"].numpy(), out["probs"].numpy(), self.info.class_names or []
        )
        calibration.reliability_diagram(folder, out["target"].numpy(), out["probs"].numpy(), m.ECE_BINS)
