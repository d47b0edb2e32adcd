"""`resume()`: a killed or crashed run continues from its last checkpoint, in the same MLflow run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from dlkit.errors import BadInput
from dlkit.locks import LockHeld, exclusive
from dlkit.models.checkpoints import META_KEY, artifact_file, read_checkpoint
from dlkit.process import heavy_imports
from dlkit.recipe.schema import Recipe
from dlkit.tracking.query import is_stale
from dlkit.tracking.store import check_readable, local_folder, resolve_tracking_uri
from dlkit.training.fit import fit
from dlkit.training.prepare import prepare
from dlkit.training.result import Resume, RunResult, Say


def resume(
    run_id: str, *, tracking_uri: str | None = None, say: Say = print, progress_bar: bool | None = None
) -> RunResult:
    """Continue run `run_id` from its last checkpoint: the recipe it holds, the epochs after it."""
    heavy_imports()
    uri = resolve_tracking_uri(tracking_uri, None)
    check_readable(uri)
    client = MlflowClient(uri)
    try:
        found = client.get_run(run_id)
    except MlflowException:
        raise BadInput(f"--resume: run {run_id} not found in {uri}", hint="pass --tracking-uri of its store") from None
    try:
        with exclusive(_lock_path(run_id, found.info.artifact_uri)):
            return _resume(client, run_id, uri, say, progress_bar)
    except LockHeld as e:
        raise BadInput(
            f"--resume: run {run_id} is being resumed by {e.holder}", hint="wait for it, or stop that process"
        ) from None


def _lock_path(run_id: str, artifact_uri: str) -> Path:
    """Beside the run's artifact folder on a local store (so every process on it sees one lock), else per machine."""
    folder = local_folder(artifact_uri)
    if folder is not None and folder.parent.is_dir():
        return folder.parent / "resume.lock"
    return Path(tempfile.gettempdir()) / f"dlkit-resume-{run_id}.lock"


def _resume(client: MlflowClient, run_id: str, uri: str, say: Say, progress_bar: bool | None) -> RunResult:
    found = client.get_run(run_id)  # again, under the lock: a resume that held it may have finished the run
    status = found.info.status
    if status == "FINISHED":
        raise BadInput(f"--resume: run {run_id} already finished")
    if status == "RUNNING" and not is_stale(found):
        where = f"process {found.data.tags.get('dlkit.pid', '?')} on {found.data.tags.get('dlkit.host', '?')}"
        raise BadInput(f"--resume: run {run_id} is still running ({where})", hint="stop it first (Ctrl-C or kill)")
    missing = BadInput(
        f"--resume: run {run_id} has no last checkpoint (it stopped before its first epoch ended)",
        hint="train the recipe again",
    )
    with artifact_file(client, found, "checkpoints/last.ckpt", missing) as path:
        meta = read_checkpoint(path, "--resume").get(META_KEY)
        if not isinstance(meta, dict) or meta.get("run_id") != run_id:
            raise BadInput(f"--resume: {path} does not belong to run {run_id}")
        recipe = Recipe.model_validate(meta["recipe"])
        steps = [point.step for point in client.get_metric_history(run_id, "perf/epoch_seconds")]
        experiment = client.get_experiment(found.info.experiment_id).name
        prepared = prepare(recipe, None, uri, served=True)
        state = Resume(run_id, path, max(steps, default=0) - 1)  # steps count epochs from 1
        return fit(recipe, prepared, uri, experiment, say, progress_bar, None, state)
