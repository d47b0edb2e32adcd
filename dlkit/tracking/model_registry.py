"""The MLflow model registry: a run's logged model as a new version of a registered model."""

from __future__ import annotations

from dlkit.errors import BadInput, TrackingError

#: the artifact path of every run's MLflow model
MODEL_PATH = "model"


def register_model(tracking_uri: str, run_id: str, name: str) -> str:
    """Register the run's `model` as a new version of registered model `name`; returns the version."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

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
