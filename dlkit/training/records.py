"""What a run records in MLflow: its tags, its start (params, recipe, preprocessing, datasets), its reports."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from dlkit import __version__, reports
from dlkit import metric_names as m
from dlkit.recipe.schema import Recipe
from dlkit.tasks import groups
from dlkit.tracking.git_head import commit_of
from dlkit.tracking.mlflow_run import MlflowRun, Split, flatten
from dlkit.training.result import Nested


def recipe_tags(recipe: Recipe) -> dict[str, str]:
    """What the recipe is: version, name, architecture, task, data, the user's tags, the git commit."""
    data = recipe.data
    tags = {
        "dlkit.version": __version__,
        "dlkit.recipe": recipe.name,
        "dlkit.arch": recipe.model.arch,
        "dlkit.task": recipe.task.kind,
        "dlkit.data": f"{data.kind}:{getattr(data, 'name', None) or getattr(data, 'path', '')}",
        **recipe.tracking.tags,
    }
    commit = commit_of(Path.cwd())
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def run_tags(recipe: Recipe, device: torch.device, world_size: int, nested: Nested | None) -> dict[str, str]:
    """The recipe's tags, the device, the parent run, and who runs it (so that `dlkit runs ls` can tell a
    run whose process died from a live one)."""
    tags = recipe_tags(recipe)
    tags["dlkit.device"] = str(device)
    tags["dlkit.world_size"] = str(world_size)
    if device.type == "cuda":
        tags["dlkit.device"] += f" ({torch.cuda.get_device_name(device)})"
    if nested is not None:
        tags.update({"mlflow.parentRunId": nested.parent_run_id, **nested.tags})
    if recipe.model.init_from:
        tags["dlkit.init_from"] = recipe.model.init_from
    tags.update({"dlkit.host": socket.gethostname(), "dlkit.pid": str(os.getpid())})
    tags["dlkit.heartbeat"] = f"{time.time():.0f}"
    return tags


def log_start(tracker: MlflowRun, recipe: Recipe, datamodule: Any, n_params: int, workdir: Path) -> None:
    """Params (the flattened resolved recipe), the recipe file, preprocessing, the dataset inputs, model size."""
    resolved = recipe.model_dump(mode="json")
    tracker.log_params(flatten(resolved))
    info = datamodule.info
    folder = workdir / "start"
    folder.mkdir()
    (folder / "recipe.yaml").write_text("# dlkit train recipe.yaml\n" + yaml.safe_dump(resolved, sort_keys=False))
    (folder / "preprocessing.json").write_text(json.dumps(info.preprocessing, indent=1, default=str))
    tracker.log_artifacts(folder)
    splits = []
    # logged_splits, not the tensors: a streamed image folder has none, only its files
    for split, (features, targets) in datamodule.logged_splits().items():
        extra = {"dlkit.split_size": str(len(targets)), "dlkit.split": split}
        if info.class_names:
            counts = np.bincount(targets, minlength=len(info.class_names)).tolist()
            extra["dlkit.class_balance"] = ", ".join(f"{n}={c}" for n, c in zip(info.class_names, counts, strict=True))
        context = {"train": "training", "val": "validation", "test": "testing"}[split]
        splits.append(Split(features, targets, f"{info.name}-{split}", context, extra))
    tracker.log_datasets(splits, source={"loader": info.source, "name": info.name})
    tracker.log_metrics({m.MODEL_PARAMS: float(n_params)}, step=0)
    if info.warnings:
        tracker.set_tags({"dlkit.data_warnings": " | ".join(info.warnings)})


#: the run's table of per-class test figures (one row per class), shown by MLflow as a table artifact
PER_CLASS_TABLE = "per_class_metrics.json"
#: a run's tag once its test reports are in it (a tuning trial's are written at the study's end)
REPORTS_TAG = "dlkit.reports"


def log_test(
    tracker: MlflowRun,
    test_metrics: dict[str, float],
    model_metrics: dict[str, float],
    step: int,
    model_id: str | None,
    per_class: bool = True,
) -> None:
    """The test metrics as the run's (and its logged model's) summary, measured on the test dataset;
    per-class figures as one table (`per_class`: with the test reports, tagged dlkit.reports); the
    model's latency (its size was logged at the start)."""
    summary = {k: v for k, v in model_metrics.items() if k != m.MODEL_PARAMS}
    summary.update({k: v for k, v in test_metrics.items() if not any(k.startswith(p) for p in m.CLASS_PREFIXES)})
    tags = {REPORTS_TAG: "yes"} if per_class else None
    tracker.log_metrics(summary, step=step, tags=tags, model_id=model_id, dataset=tracker.dataset("testing"))
    table = per_class_table(test_metrics) if per_class else None
    if table is not None:
        tracker.client.log_table(tracker.run_id, table, PER_CLASS_TABLE)


def per_class_table(test_metrics: dict[str, float]) -> Any:
    """The per-class test figures as a table (a row per class: test/f1/<class> is row <class>, column
    f1), or None when there are none."""
    import pandas as pd

    rows: dict[str, dict[str, float]] = {}
    for key, value in test_metrics.items():
        prefix = next((p for p in m.CLASS_PREFIXES if key.startswith(p)), None)
        if prefix is not None:
            rows.setdefault(key[len(prefix) :], {})[prefix.split("/")[1]] = value
    return pd.DataFrame([{"class": name, **values} for name, values in rows.items()]) if rows else None


def log_reports(
    tracker: MlflowRun,
    task: Any,
    datamodule: Any,
    history: list[dict[str, float]],
    monitor: str,
    workdir: Path,
    by_group: list[groups.GroupScores],
) -> None:
    """The task's reports on the test split (predictions, confusion matrix, ...), the metrics by group and
    the learning curves."""
    folder = workdir / "reports"
    folder.mkdir()
    task.write_reports(folder, datamodule.index["test"])
    for scores in by_group:
        groups.write(folder, scores)
    if history:
        reports.learning_curves(history, monitor, folder / "learning_curves.png")
    tracker.log_artifacts(folder)
