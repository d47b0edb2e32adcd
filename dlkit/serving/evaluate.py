"""`evaluate()`: score a finished run on its test split or on a new labelled file, as a linked MLflow run.

On the test split the data is rebuilt from the run's recipe (same seed, same split, same fitted
preprocessing, which is checked against the one saved in the checkpoint) and the task's own test
loop computes the metrics, so they equal the training run's test metrics. A new file goes through
the saved preprocessing (`raw_inputs.from_file`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlkit import data
from dlkit.data import tabular
from dlkit.data.base import TensorDataModule
from dlkit.data.files import read_table
from dlkit.data.raw_inputs import from_file
from dlkit.errors import BadInput, DataError
from dlkit.process import heavy_imports
from dlkit.recipe.data_kinds import CsvData
from dlkit.recipe.loader import with_overrides
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section
from dlkit.tasks import groups
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.mlflow_run import MlflowRun
from dlkit.tracking.store import resolve_tracking_uri


@dataclass
class Evaluation:
    run_id: str
    evaluated_run: str | None
    metrics: dict[str, float]
    source: str
    by_group: list[groups.GroupScores] = field(default_factory=list)


def rebuilt_split(recipe: Recipe, saved: Any, say: Callable[[str], None]) -> Any:
    """The run's data module rebuilt from its recipe; warns when the fitted preprocessing came out different."""
    module = data.build(recipe)
    fresh = json.dumps(module.info.preprocessing, sort_keys=True, default=str)
    if fresh != json.dumps(saved.preprocessing, sort_keys=True, default=str):
        say("warning: the data differs from what the run was trained on (its fitted preprocessing changed)")
    return module


def evaluate(
    ref: str,
    *,
    data_path: Path | None = None,
    overrides: list[str] | None = None,
    by: list[str] | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    say: Callable[[str], None] = print,
) -> Evaluation:
    """Score run `ref` (a run id or a checkpoint file) and record an evaluation run linked to it; `by`: the
    columns whose groups get the metrics too (default: the recipe's task.report_by)."""
    import torch

    heavy_imports()
    uri = resolve_tracking_uri(tracking_uri, None)
    predictor = Predictor.load(ref, uri, "RUN")
    if predictor.warning:
        say(f"warning: {predictor.warning}")
    recipe = with_overrides(predictor.recipe, overrides or [])
    _check_by(recipe, by)
    info = predictor.info
    if data_path is None:
        module = rebuilt_split(recipe, info, say)
        source = "test split"
        if by:
            module.groups = tabular.group_columns(tabular.labelled_frame(recipe), by, "--by")
    else:
        raw = from_file(data_path, recipe, info, "--data")
        if raw.y is None:
            target = info.preprocessing.get("target") or getattr(recipe.data, "target", "target")
            raise DataError(
                f"--data: {data_path} has no target column '{target}'",
                hint="evaluate needs labels; dlkit predict handles unlabelled data",
            )
        y = torch.from_numpy(raw.y if info.class_names else raw.y.reshape(len(raw.y), -1).astype(np.float32))
        splits = {"test": (torch.from_numpy(raw.x), y)}
        if predictor.task.tests_with_validation:
            splits["val"] = rebuilt_split(recipe, info, say).splits["val"]
        bs = recipe.data.eval_batch_size or recipe.data.batch_size * 4
        module = TensorDataModule(splits, {"test": np.arange(len(raw.x))}, info, bs, bs, recipe.data.seed)
        source = str(data_path)
        reported = by or getattr(recipe.task, "report_by", [])
        if reported:
            params = section(recipe.data, CsvData).model_copy(update={"path": str(data_path)})
            table, _ = read_table(params, header=params.header, field="--data")
            module.groups = tabular.group_columns(table, reported, "--by" if by else "task.report_by")

    task = predictor.task
    metrics, by_group = predictor.test(module)
    metrics.update(groups.metrics(by_group))

    evaluated = predictor.run_id
    tags = {
        "dlkit.evaluated_run": evaluated or "",
        "dlkit.recipe": recipe.name,
        "dlkit.task": recipe.task.kind,
        "dlkit.eval_data": source,
        "dlkit.checkpoint_sha256": _sha256(predictor.checkpoint),
    }
    tracker = MlflowRun(uri, experiment or recipe.tracking.experiment, f"{recipe.name}-eval", tags, unique_name=True)
    with tracker:
        tracker.log_metrics(metrics, step=0)
        with tempfile.TemporaryDirectory(prefix="dlkit-eval-") as tmp:
            folder = Path(tmp)
            task.write_reports(folder, module.index["test"])
            for scores in by_group:
                groups.write(folder, scores)
            tracker.log_artifacts(folder)
    return Evaluation(tracker.run_id, evaluated, metrics, source, by_group)


def _check_by(recipe: Recipe, by: list[str] | None) -> None:
    if not by:
        return
    if recipe.data.kind != "csv":
        raise BadInput(f"--by needs a run on a table (data.kind: csv); this run's data.kind is {recipe.data.kind}")
    if not hasattr(recipe.task, "report_by"):
        raise BadInput(f"--by: task {recipe.task.kind} has no metrics by group (classification and regression do)")


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
