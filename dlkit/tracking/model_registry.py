"""The MLflow model registry: a run's logged model as a new version of a registered model."""

from __future__ import annotations

from dlkit.errors import BadInput, TrackingError
from dlkit.tracking.logged_models import run_model_id


def register_model(tracking_uri: str, run_id: str, name: str) -> str:
    """Register the run's logged model as a new version of registered model `name`; returns the version."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri)
    model_id = run_model_id(tracking_uri, run_id)
    if model_id is None:
        raise BadInput(f"--register: run {run_id} has no MLflow model (image and array data are not served as rows)")
    try:
        try:
            client.create_registered_model(name)
        except MlflowException as e:
            if "already exists" not in str(e).lower():
                raise
        # the logged model's own artifact location: a models:/ source would be resolved against the default
        # tracking URI, not this store
        source = client.get_logged_model(model_id).artifact_location
        version = client.create_model_version(name, source, run_id=run_id, model_id=model_id)
    except MlflowException as e:
        raise TrackingError(f"--register {name}: {str(e).splitlines()[0]}") from None
    return str(version.version)
