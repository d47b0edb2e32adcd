"""Every training run as an MLflow model: a pyfunc that wraps the network and its fitted preprocessing.

`mlflow.pyfunc.load_model("models:/<model_id>")` (or `"runs:/<run_id>/model"`) `.predict(raw_rows)` and
`mlflow models serve` answer with the same table `dlkit predict` writes, because both go through `Predictor`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from dlkit import __version__
from dlkit.data.raw_inputs import from_frame
from dlkit.recipe.schema import Recipe
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.logged_models import MODEL_NAME, new_model, upload
from dlkit.tracking.mlflow_run import MlflowRun, flatten


class DlkitModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Raw rows in (a DataFrame with the training file's columns), the predictions table out."""

    def load_context(self, context: Any) -> None:
        self.predictor = Predictor.load(context.artifacts["checkpoint"], tracking_uri="", field="model")

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        raw = from_frame(frame, self.predictor.recipe, self.predictor.info, "model input")
        top = (params or {}).get("top")
        return self.predictor.frame(raw, int(top) if top else None)


def requirements() -> list[str]:
    from importlib import metadata

    pins = [f"dlkit=={__version__}"]
    for name in ("torch", "lightning", "torchmetrics", "mlflow", "pandas", "numpy", "scikit-learn", "pydantic"):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _optional(signature: Any, optional: set[str]) -> Any:
    """`signature` with the input columns the model may be sent without marked optional."""
    from mlflow.types.schema import ColSpec, Schema

    if optional and signature.inputs is not None:
        columns = signature.inputs.inputs
        signature.inputs = Schema([ColSpec(c.type, c.name, required=c.name not in optional) for c in columns])
    return signature


def log_model(tracker: MlflowRun, checkpoint: Path, recipe: Recipe, info: Any, example: pd.DataFrame, step: int) -> str:
    """Log the run's pyfunc model as an MLflow 3 logged model (output of the run at `step`), `example`
    (checked before training, see `prepare`) as its input example; returns its model id."""
    from mlflow.models import Model, infer_signature

    predictor = Predictor.load(str(checkpoint), tracking_uri="", field="checkpoint")
    output = predictor.frame(from_frame(example, recipe, info, "input example"))
    serving, optional = predictor.task.serving_params(), set(predictor.task.optional_inputs())
    folder = Path(tempfile.mkdtemp(prefix="dlkit-model-"))
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    tags = {"dlkit.recipe": recipe.name, "dlkit.arch": recipe.model.arch, "dlkit.task": recipe.task.kind}
    params = flatten(recipe.model_dump(mode="json", include={"model", "task", "optimizer"}))
    try:
        with new_model(tracker, params=params, tags=tags, model_type=recipe.task.kind, step=step) as model:
            # MLflow warns about pickled python_model objects, type hints and integer columns; dlkit's model
            # class is imported by name from the installed package, and its row ids are never missing
            pyfunc_log.setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # infer_signature warns about integer columns
                mlflow.pyfunc.save_model(
                    path=str(folder / MODEL_NAME),
                    python_model=DlkitModel(),
                    artifacts={"checkpoint": str(checkpoint)},
                    signature=_optional(infer_signature(example, output, params=serving or None), optional),
                    input_example=example,
                    pip_requirements=requirements(),
                    mlflow_model=Model(
                        artifact_path=model.artifact_location,
                        run_id=tracker.run_id,
                        model_uuid=model.model_id,
                        model_id=model.model_id,
                    ),
                )
            upload(tracker, model, folder / MODEL_NAME)
    finally:
        pyfunc_log.setLevel(level)
        shutil.rmtree(folder, ignore_errors=True)
    return str(model.model_id)
