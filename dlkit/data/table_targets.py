"""A table's target columns: `data.target`, or the several columns of task multi (`task.targets`).

With several targets the data module's target is a float matrix with one column per target (class
codes or values, in the order of `task.targets`); each target's classes and training statistics are
a `TargetInfo`, which the task reads to split the network's outputs and scale its regressions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.data.files import column
from dlkit.data.info import TargetInfo
from dlkit.data.targets import labelled_rows, target_values, without_rare_classes, without_unlabeled
from dlkit.errors import DataError


def _specs(task: Any) -> list[Any]:
    return list(getattr(task, "targets", None) or [])


def target_columns(frame: Any, params: Any, task: Any) -> list[Any]:
    """The target columns as the frame names them (one, unless the task learns several)."""
    specs = _specs(task)
    if not specs:
        return [column(frame, params.target, "data.target")]
    return [column(frame, spec.column, f"task.targets[{i}].column") for i, spec in enumerate(specs)]


def labelled(frame: Any, targets: list[Any], params: Any, task: Any, notes: list[str]) -> Any:
    """The rows to learn from: every target present (data.drop_unlabeled), no too rare class (data.rare_classes)."""
    specs = _specs(task)
    if not specs:
        return labelled_rows(frame, targets[0], params, task, notes)
    for name, spec in zip(targets, specs, strict=True):
        frame = without_unlabeled(frame, name, params.drop_unlabeled, notes)
        if spec.kind == "classification":
            frame = without_rare_classes(frame, name, params.rare_classes, notes)
    return frame


def _class_task(spec: Any) -> Any:
    """What `target_values` needs to know of one target (whether it holds labels, the task's name)."""
    from types import SimpleNamespace

    return SimpleNamespace(labelled=spec.kind == "classification", kind=spec.kind)


def values(frame: Any, targets: list[Any], task: Any) -> tuple[np.ndarray, list[str] | None, list[TargetInfo]]:
    """The target array, the class names of a single classification target, and (several targets) each
    target's description; training statistics are filled in by `fit`."""
    specs = _specs(task)
    if not specs:
        y, names = target_values(frame, targets[0], task)
        return y, names, []
    blocks, infos = [], []
    for name, spec in zip(targets, specs, strict=True):
        y, names = target_values(
            frame, name, _class_task(spec), f"task.targets: {spec.column}", "set its kind: classification"
        )
        blocks.append(y.astype(np.float32))
        infos.append(TargetInfo(column=str(name), kind=spec.kind, class_names=names))
    return np.stack(blocks, axis=1), None, infos


def strata(y: np.ndarray, infos: list[TargetInfo]) -> tuple[np.ndarray, list[str] | None]:
    """What the split is stratified by: the first classification target's codes (several targets), else `y`."""
    if not infos:
        return y, None
    first = next((j for j, t in enumerate(infos) if t.class_names is not None), None)
    if first is None:
        return y[:, 0], None
    return y[:, first].astype(np.int64), infos[first].class_names


def fit(y: np.ndarray, train: np.ndarray, infos: list[TargetInfo], task: Any) -> None:
    """Each target's training statistics: class counts, or the mean and spread of the fitted values."""
    for j, (info, spec) in enumerate(zip(infos, _specs(task), strict=True)):
        values = y[train, j].astype(np.float64)
        if info.class_names is not None:
            info.train_class_counts = np.bincount(values.astype(np.int64), minlength=len(info.class_names)).tolist()
            continue
        if spec.target_transform == "log1p":
            if y[:, j].min() <= -1:
                raise DataError(
                    f"task.targets: {spec.column}: log1p needs targets above -1; the data has {float(y[:, j].min()):g}",
                    hint="use target_transform: standard",
                )
            info.log1p = True
            values = np.log1p(values)
        info.mean, info.std = float(values.mean()), float(values.std() or 1.0)
