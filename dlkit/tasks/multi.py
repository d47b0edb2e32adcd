"""Several targets at once (task multi): one network, its outputs split into one head per target.

A classification target takes one logit per class (cross-entropy), a regression target one value
fitted on its standardised (or log1p) scale; the loss is the weighted sum of the targets' losses.
Metrics, reports and figures are per target: `val/acc/<column>`, `test/rmse/<column>`, and a
report folder per target column.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassCalibrationError,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from dlkit import calibration, reports
from dlkit import metric_names as m
from dlkit.data.info import DataInfo, TargetInfo
from dlkit.errors import BadInput
from dlkit.models.checkpoints import read_checkpoint
from dlkit.recipe.multi_target import MultiTargetParams, target_metric
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section
from dlkit.tasks import temperature
from dlkit.tasks.base import LossMeter, Task


def _classification_metrics(k: int, test: bool) -> MetricCollection:
    metrics: dict[str, Any] = {"acc": MulticlassAccuracy(k, average="micro"), "f1_macro": MulticlassF1Score(k)}
    if test:
        metrics |= {
            "precision_macro": MulticlassPrecision(k, average="macro"),
            "recall_macro": MulticlassRecall(k, average="macro"),
            "f1_weighted": MulticlassF1Score(k, average="weighted"),
            "roc_auc": MulticlassAUROC(k, average="macro"),
            "ece": MulticlassCalibrationError(k, n_bins=m.ECE_BINS, norm="l1"),
        }
    return MetricCollection(metrics)


def _regression_metrics(test: bool) -> MetricCollection:
    metrics: dict[str, Any] = {"mse": MeanSquaredError(), "mae": MeanAbsoluteError()}
    return MetricCollection(metrics | ({"r2": R2Score()} if test else {}))


class MultiTargetTask(Task):
    """One head per target column over a shared backbone; val/loss is the weighted sum of their losses."""

    means: torch.Tensor
    stds: torch.Tensor
    #: what divides each classification target's logits (1 until task.targets[].calibrate fits it)
    temperatures: torch.Tensor

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        self.specs = section(recipe.task, MultiTargetParams).targets
        self.targets: list[TargetInfo] = info.targets
        starts = np.cumsum([0] + [t.width for t in self.targets])
        self.slices = [(int(a), int(b)) for a, b in itertools.pairwise(starts)]
        self.weights = [spec.weight for spec in self.specs]
        self.register_buffer("means", torch.tensor([t.mean for t in self.targets], dtype=torch.float32))
        self.register_buffer("stds", torch.tensor([t.std for t in self.targets], dtype=torch.float32))
        calibrating = any(spec.calibrate == "temperature" for spec in self.specs)
        # saved only when calibrating: checkpoints of runs without it keep loading as they are
        self.register_buffer("temperatures", torch.ones(len(self.targets)), persistent=calibrating)

        def metrics(test: bool) -> nn.ModuleList:
            return nn.ModuleList(
                _classification_metrics(t.width, test) if t.class_names is not None else _regression_metrics(test)
                for t in self.targets
            )

        self.val_metrics, self.test_metrics = metrics(False), metrics(True)
        self.val_losses = nn.ModuleList(LossMeter() for _ in self.targets)
        self.test_losses = nn.ModuleList(LossMeter() for _ in self.targets)
        self.test_outputs: dict[str, torch.Tensor] = {}
        self._outputs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def _losses(self, output: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Each target's loss on one batch (unweighted)."""
        out = []
        for j, (target, spec, (a, b)) in enumerate(zip(self.targets, self.specs, self.slices, strict=True)):
            if target.class_names is not None:
                out.append(F.cross_entropy(output[:, a:b], y[:, j].long(), label_smoothing=spec.label_smoothing))
                continue
            fitted = torch.log1p(y[:, j]) if target.log1p else y[:, j]
            scaled, value = (fitted - self.means[j]) / self.stds[j], output[:, a]
            if spec.loss == "mae":
                out.append(F.l1_loss(value, scaled))
            elif spec.loss == "huber":
                out.append(F.huber_loss(value, scaled))
            else:
                out.append(F.mse_loss(value, scaled))
        return out

    def _weighted(self, losses: list[torch.Tensor]) -> torch.Tensor:
        """The summed loss: each target's weighted by task.targets[].weight."""
        return torch.stack([w * loss for w, loss in zip(self.weights, losses, strict=True)]).sum()

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._weighted(self._losses(output, target))

    def outputs(self, output: torch.Tensor) -> torch.Tensor:
        """What the network's outputs mean: each classification target's probabilities, each regression
        target's value in its own units, side by side."""
        parts = []
        for j, (target, (a, b)) in enumerate(zip(self.targets, self.slices, strict=True)):
            if target.class_names is not None:
                parts.append((output[:, a:b].float() / self.temperatures[j]).softmax(dim=-1))
            else:
                value = output[:, a:b].float() * self.stds[j] + self.means[j]
                parts.append(torch.expm1(value) if target.log1p else value)
        return torch.cat(parts, dim=1)

    def calibrate_checkpoint(self, checkpoint: Path, val_batches: Any) -> tuple[list[str], dict[str, float]]:
        """Fit the temperature of each target that calibrates on the validation logits of `checkpoint`'s
        weights and write them into the checkpoint (test, predict and the logged model read them)."""
        chosen = [j for j, spec in enumerate(self.specs) if spec.calibrate == "temperature"]
        if not chosen:
            return [], {}
        saved = read_checkpoint(checkpoint, "checkpoint")
        self.load_state_dict(saved["state_dict"])
        outputs, targets = temperature.validation_outputs(self, val_batches, self.slices[-1][1])
        if len(targets) == 0:
            return ["warning: task.targets[].calibrate: the validation split is empty; temperatures stay 1"], {}
        lines, metrics = [], {}
        for j in chosen:
            (a, b), column = self.slices[j], self.targets[j].column
            logits, codes = outputs[:, a:b], targets[:, j].long()
            t = temperature.fit(logits, codes)
            self.temperatures[j] = t
            before, after = temperature.ece_change(logits, codes, t, m.ECE_BINS)
            lines.append(f"calibration of {column}: temperature {t:.3f} (validation ECE {before:.4f} -> {after:.4f})")
            metrics[m.per_class(m.MODEL_TEMPERATURE + "/", column)] = t
        temperature.write_buffer(checkpoint, saved, "temperatures", self.temperatures.detach().cpu())
        return lines, metrics

    def _update(self, x: torch.Tensor, y: torch.Tensor, meter: LossMeter, meters: Any, metrics: Any) -> torch.Tensor:
        output = self.backbone(x)
        losses = self._losses(output, y)
        meter.update(self._weighted(losses), len(y))
        values = self.outputs(output)
        for j, (target, (a, b)) in enumerate(zip(self.targets, self.slices, strict=True)):
            meters[j].update(losses[j], len(y))
            if target.class_names is not None:
                metrics[j].update(values[:, a:b], y[:, j].long())
            else:
                metrics[j].update(values[:, a], y[:, j].float())
        return values

    def _computed(self, split: str, meters: Any, metrics: Any) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for j, target in enumerate(self.targets):
            values = dict(metrics[j].compute())
            metrics[j].reset()
            if "mse" in values:
                values["rmse"] = values["mse"].sqrt()
                if split == "val":
                    values.pop("mse")
            values["loss"] = meters[j].compute_and_reset()
            out |= {target_metric(split, name, target.column): value for name, value in values.items()}
        return out

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._update(*batch, self.val_loss, self.val_losses, self.val_metrics)

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        return self._computed("val", self.val_losses, self.val_metrics)

    def on_test_epoch_start(self) -> None:
        self._outputs, self._targets = [], []

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        values = self._update(*batch, self.test_loss, self.test_losses, self.test_metrics)
        self._outputs.append(values.detach())
        self._targets.append(batch[1].float())

    def on_test_epoch_end(self) -> None:
        values = {m.TEST_LOSS: self.test_loss.compute_and_reset()}
        self.log_epoch(values | self._computed("test", self.test_losses, self.test_metrics), prog_bar=False)
        width = self.slices[-1][1]
        outputs = torch.cat(self._outputs).cpu() if self._outputs else torch.empty(0, width)
        targets = torch.cat(self._targets).cpu() if self._targets else torch.empty(0, len(self.targets))
        self.test_outputs = {"outputs": outputs, "target": targets}
        self._outputs, self._targets = [], []

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        return self.outputs(self.backbone(x))

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """Per target: prediction_<column> (class name or value); a classification also probability_<column>
        (of that class) and prob_<column>=<class> for every class."""
        columns: dict[str, Any] = {}
        for target, (a, b) in zip(self.targets, self.slices, strict=True):
            if target.class_names is None:
                columns[f"prediction_{target.column}"] = out[:, a]
                continue
            probs = out[:, a:b]
            best = probs.argmax(axis=1)
            columns[f"prediction_{target.column}"] = [target.class_names[i] for i in best]
            columns[f"probability_{target.column}"] = probs[np.arange(len(probs)), best]
            columns |= {f"prob_{target.column}={name}": probs[:, i] for i, name in enumerate(target.class_names)}
        return columns

    def output_names(self, width: int) -> list[str]:
        names: list[str] = []
        for target in self.targets:
            if target.class_names is None:
                names.append(f"prediction_{target.column}")
            else:
                names += [f"prob_{target.column}={name}" for name in target.class_names]
        return names

    def export_score(self, out: np.ndarray, y: np.ndarray) -> tuple[str, float] | None:
        """The first target's accuracy or RMSE."""
        target, (a, b) = self.targets[0], self.slices[0]
        truth = y.reshape(len(y), -1)[:, 0]
        if target.class_names is not None:
            return f"accuracy of {target.column}", float((out[:, a:b].argmax(axis=1) == truth).mean())
        return f"rmse of {target.column}", float(np.sqrt(np.mean((out[:, a] - truth) ** 2)))

    def explained_outputs(self, outputs: torch.Tensor, target: str | None) -> torch.Tensor:
        """The output explained for each sample: `--target COLUMN` (its predicted class, or its value) or
        `--target COLUMN=CLASS`; the first target by default."""
        column, _, wanted = (target or self.targets[0].column).partition("=")
        names = [t.column for t in self.targets]
        if column not in names:
            raise BadInput(f"--target '{column}' is not a target of this run ({', '.join(names)})")
        j = names.index(column)
        (a, b), classes = self.slices[j], self.targets[j].class_names
        if classes is None:
            if wanted:
                raise BadInput(f"--target {column} is a regression target; it has no class '{wanted}'")
            return torch.full((len(outputs),), a, dtype=torch.long, device=outputs.device)
        if not wanted:
            return outputs[:, a:b].argmax(dim=-1) + a
        if wanted not in classes:
            raise BadInput(f"--target {column}={wanted}: not a class of '{column}' ({', '.join(classes[:10])})")
        return torch.full((len(outputs),), a + classes.index(wanted), dtype=torch.long, device=outputs.device)

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        """predictions.csv with every target's truth and prediction, and a folder per target column with
        what a run of that target alone writes."""
        import pandas as pd

        outputs, targets = self.test_outputs["outputs"].numpy(), self.test_outputs["target"].numpy()
        table: dict[str, Any] = {"index": test_index}
        for j, (target, (a, b)) in enumerate(zip(self.targets, self.slices, strict=True)):
            names = target.class_names
            table[f"true_{target.column}"] = targets[:, j] if names is None else [names[int(c)] for c in targets[:, j]]
            table[f"predicted_{target.column}"] = (
                outputs[:, a] if names is None else [names[i] for i in outputs[:, a:b].argmax(axis=1)]
            )
        pd.DataFrame(table).to_csv(folder / "predictions.csv", index=False)
        for j, (target, (a, b)) in enumerate(zip(self.targets, self.slices, strict=True)):
            sub = folder / m.per_class("", target.column)
            sub.mkdir()
            if target.class_names is None:
                reports.write_regression(sub, test_index, targets[:, j], outputs[:, a])
                continue
            codes = targets[:, j].astype(np.int64)
            reports.write_classification(sub, test_index, codes, outputs[:, a:b], target.class_names)
            calibration.reliability_diagram(sub, codes, outputs[:, a:b], m.ECE_BINS)
