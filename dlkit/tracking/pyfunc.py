"""Every training run as an MLflow model: a pyfunc that wraps the network and its fitted preprocessing.

`mlflow.pyfunc.load_model("runs:/<id>/model").predict(raw_rows)` and `mlflow models serve` answer
with the same table `dlkit predict` writes, because both go through `Predictor`.
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

MODEL_PATH = "model"


class DlkitModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Raw rows in (a DataFrame with the training file's columns), the predictions table out."""

    def load_context(self, context: Any) -> None:
        from dlkit.evaluation.predict import Predictor

        self.predictor = Predictor.load(context.artifacts["checkpoint"], tracking_uri="", field="model")

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from dlkit.evaluation.raw import from_frame

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        raw = from_frame(frame, self.predictor.recipe, self.predictor.info, "model input")
        return self.predictor.frame(raw)


def requirements() -> list[str]:
    from importlib import metadata

    pins = [f"dlkit=={__version__}"]
    for name in ("torch", "lightning", "torchmetrics", "mlflow", "pandas", "numpy", "scikit-learn", "pydantic"):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def log_model(tracker: Any, checkpoint: Path, recipe: Any, info: Any) -> bool:
    """Save the pyfunc model of a run under its `model` artifact path; False when its data cannot be served as rows."""
    from mlflow.models import infer_signature

    from dlkit.evaluation.predict import Predictor
    from dlkit.evaluation.raw import example_frame, from_frame

    if recipe.task.kind == "generation":
        return False
    example = example_frame(recipe, info)
    if example is None:
        return False
    predictor = Predictor.load(str(checkpoint), tracking_uri="", field="checkpoint")
    output = predictor.frame(from_frame(example, recipe, info, "input example"))
    folder = Path(tempfile.mkdtemp(prefix="dlkit-model-"))
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    try:
        # MLflow warns about pickled python_model objects, type hints and integer columns; dlkit's model class
        # is imported by name from the installed package, and its row ids are never missing
        pyfunc_log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.pyfunc.save_model(
                path=str(folder / MODEL_PATH),
                python_model=DlkitModel(),
                artifacts={"checkpoint": str(checkpoint)},
                signature=infer_signature(example, output),  # inside: it warns about integer columns
                input_example=example,
                pip_requirements=requirements(),
            )
        tracker.log_artifacts(folder / MODEL_PATH, MODEL_PATH)
    finally:
        pyfunc_log.setLevel(level)
        shutil.rmtree(folder, ignore_errors=True)
    return True


def register_model(tracking_uri: str, run_id: str, name: str) -> str:
    """Register the run's `model` as a new version of registered model `name`; returns the version."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from dlkit.errors import BadInput, TrackingError

    client = MlflowClient(tracking_uri)
    if not any(a.path == MODEL_PATH for a in client.list_artifacts(run_id)):
        raise BadInput(f"--register: run {run_id} has no MLflow model (image and array data are not served as rows)")
    try:
        try:
            client.create_registered_model(name)
        except MlflowException as e:
            if "already exists" not in str(e).lower():
                raise
        source = f"{client.get_run(run_id).info.artifact_uri}/{MODEL_PATH}"
        version = client.create_model_version(name, source, run_id=run_id)
    except MlflowException as e:
        raise TrackingError(f"--register {name}: {str(e).splitlines()[0]}") from None
    return str(version.version)
