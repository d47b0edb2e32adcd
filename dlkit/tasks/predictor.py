"""A finished run as a predictor: its checkpoint, recipe and fitted preprocessing, loaded safely.

`dlkit predict`, the MLflow pyfunc model and `dlkit evaluate` on new files all go through
`Predictor`, so the three give the same numbers for the same raw input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit import models, tasks
from dlkit.data.info import DataInfo
from dlkit.data.raw_inputs import RawInputs
from dlkit.errors import BadInput
from dlkit.models.checkpoints import read_dlkit_checkpoint
from dlkit.recipe.schema import Recipe


@dataclass
class Predictor:
    """The task module of a run with its best weights, in eval mode on the CPU."""

    recipe: Recipe
    info: DataInfo
    task: Any
    run_id: str | None
    checkpoint: Path
    state_dict: dict[str, Any]
    #: set when the run did not finish (see DlkitCheckpoint.unfinished)
    warning: str | None = None

    @classmethod
    def load(cls, ref: str, tracking_uri: str, field: str = "RUN") -> Predictor:
        found = read_dlkit_checkpoint(ref, tracking_uri, field)
        recipe, info, checkpoint, path = found.recipe, found.info, found.checkpoint, found.path
        if not tasks.task_class(recipe.task.kind).predicts:
            raise BadInput(f"{field}: run {found.run_id} is a {recipe.task.kind} run: it predicts nothing")
        backbone = models.build(recipe.model, info)
        task = tasks.build(recipe, backbone, info, tracking_uri)
        try:
            task.load_state_dict(checkpoint["state_dict"])
        except RuntimeError as e:
            raise BadInput(f"{field}: {path} does not fit its own recipe ({str(e).splitlines()[0]})") from None
        task.eval()
        return cls(recipe, info, task, found.run_id, path, checkpoint["state_dict"], found.unfinished)

    def test(self, module: Any) -> tuple[dict[str, float], list[Any]]:
        """The task's own test loop on `module`'s test split, on the CPU: its test metrics, and the scores
        of the module's groups (dlkit.tasks.groups); the task keeps the outputs for its reports."""
        import lightning as L

        from dlkit.process import silence_libraries
        from dlkit.tasks import groups

        silence_libraries()
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.test(self.task, datamodule=module, verbose=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        return metrics, groups.test_scores(self.task, module.groups, module.index["test"])

    def outputs(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Raw task outputs: probabilities, values in the target's units, or anomaly scores."""
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size]))
                chunks.append(self.task.predict_outputs(batch).reshape(len(batch), -1).numpy())
        return np.concatenate(chunks).astype(np.float64)

    def frame(self, raw: RawInputs, top: int | None = None) -> Any:
        """Predictions as a table: the identifying columns, then the task's outputs; with `top` (or rows that
        ask for it), the best `top` items of each user instead (recommendation)."""
        import pandas as pd

        if raw.ranked or top is not None:
            return pd.DataFrame(self.task.ranked_columns(raw, top))

        columns: dict[str, Any] = dict(raw.ids)
        columns.update(self.task.prediction_columns(self.outputs(raw.x)))
        return pd.DataFrame(columns)
