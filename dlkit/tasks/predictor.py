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

#: what each task writes, documented in `dlkit predict --help`
OUTPUT_COLUMNS = {
    "classification": "prediction (class name), probability (of that class), prob_<class> for every class",
    "regression": "prediction (prediction_<i> for several targets), in the target's units",
    "forecasting": "<target>_t+<h> for each forecast step h and target",
    "reconstruction": "anomaly_score (mean squared reconstruction error)",
}


@dataclass
class Predictor:
    """The task module of a run with its best weights, in eval mode on the CPU."""

    recipe: Recipe
    info: DataInfo
    task: Any
    run_id: str | None
    checkpoint: Path
    state_dict: dict[str, Any]

    @classmethod
    def load(cls, ref: str, tracking_uri: str, field: str = "RUN") -> Predictor:

        found = read_dlkit_checkpoint(ref, tracking_uri, field)
        recipe, info, checkpoint, path = found.recipe, found.info, found.checkpoint, found.path
        if recipe.task.kind == "generation":
            raise BadInput(f"{field}: run {found.run_id} is a GAN: it generates samples and predicts nothing")
        backbone = models.build(recipe.model, info)
        task = tasks.build(recipe, backbone, info, tracking_uri)
        try:
            task.load_state_dict(checkpoint["state_dict"])
        except RuntimeError as e:
            raise BadInput(f"{field}: {path} does not fit its own recipe ({str(e).splitlines()[0]})") from None
        task.eval()
        return cls(recipe, info, task, found.run_id, path, checkpoint["state_dict"])

    def outputs(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Raw task outputs: probabilities, values in the target's units, or anomaly scores."""
        import torch

        kind = self.recipe.task.kind
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size]))
                if kind == "classification":
                    out = self.task.backbone(batch).float().softmax(dim=-1)
                elif kind == "reconstruction":
                    out = self.task.scores(self.task.backbone(batch), batch)
                else:
                    out = self.task.predict_step((batch,), 0).float()
                chunks.append(out.reshape(len(batch), -1).numpy())
        return np.concatenate(chunks).astype(np.float64)

    def frame(self, raw: RawInputs) -> Any:
        """Predictions as a table: the identifying columns, then the task's outputs."""
        import pandas as pd

        out = self.outputs(raw.x)
        columns: dict[str, Any] = dict(raw.ids)
        kind = self.recipe.task.kind
        if kind == "classification":
            names = self.info.class_names or []
            best = out.argmax(axis=1)
            columns["prediction"] = [names[i] for i in best]
            columns["probability"] = out[np.arange(len(out)), best]
            for i, name in enumerate(names):
                columns[f"prob_{name}"] = out[:, i]
        elif kind == "reconstruction":
            columns["anomaly_score"] = out[:, 0]
        elif kind == "forecasting":
            targets = self.info.preprocessing.get("targets", ["value"])
            for j in range(out.shape[1]):
                h, t = divmod(j, len(targets))
                columns[f"{targets[t]}_t+{h + 1}"] = out[:, j]
        elif out.shape[1] == 1:
            columns["prediction"] = out[:, 0]
        else:
            for j in range(out.shape[1]):
                columns[f"prediction_{j}"] = out[:, j]
        return pd.DataFrame(columns)
