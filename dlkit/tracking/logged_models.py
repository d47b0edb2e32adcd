"""A run's model as an MLflow 3 logged model: listed in the run's "Logged models", the experiment's Models
tab and the runs table, loadable as `models:/<model_id>` and as `runs:/<run_id>/model`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlkit.tracking.mlflow_run import MlflowRun

#: the name of every run's logged model: `runs:/<run_id>/model` finds the run's logged model of this name
MODEL_NAME = "model"


@dataclass
class RunRef:
    """A finished run that gains a logged model later (`dlkit export`), without reopening it."""

    client: Any
    experiment_id: str
    run_id: str

    @classmethod
    def of(cls, tracking_uri: str, run_id: str) -> RunRef:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri)
        return cls(client, client.get_run(run_id).info.experiment_id, run_id)


@contextmanager
def new_model(
    run: MlflowRun | RunRef,
    *,
    params: dict[str, str],
    tags: dict[str, str],
    model_type: str,
    step: int,
    name: str = MODEL_NAME,
) -> Iterator[Any]:
    """A logged model of `run` (PENDING) for the block to save into (see `upload`); READY and linked to the
    run as its output at `step` when the block ends, FAILED when it raises."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    client = run.client
    model = client.create_logged_model(
        run.experiment_id, name=name, source_run_id=run.run_id, params=params, tags=tags, model_type=model_type
    )
    try:
        yield model
        client.log_outputs(run.run_id, [LoggedModelOutput(model.model_id, step=step)])
    except BaseException:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)


def upload(run: MlflowRun | RunRef, model: Any, folder: Path) -> None:
    """The saved MLflow model in `folder` as the logged model's artifacts."""
    run.client.log_model_artifacts(model.model_id, str(folder))


def model_uri(model_id: str) -> str:
    return f"models:/{model_id}"


def run_model_id(tracking_uri: str, run_id: str) -> str | None:
    """The id of the (pyfunc) model a run produced, None when it produced none; an exported ONNX model
    linked to the run later is passed over."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    outputs = run.outputs.model_outputs if run.outputs else []
    for output in reversed(outputs):
        if client.get_logged_model(output.model_id).name == MODEL_NAME:
            return str(output.model_id)
    return None
