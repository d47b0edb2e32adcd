"""Checkpoints of trained runs: what they carry, where to find them, how they load safely.

Every checkpoint dlkit writes carries, beside the weights, the resolved recipe, the
data description (shapes, classes, fitted preprocessing) and the run id, as plain
data: `torch.load(..., weights_only=True)` reads it and never unpickles code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlkit import __version__
from dlkit.data.info import DataInfo, ImageBlock, TargetInfo, TextBlock
from dlkit.errors import BadInput
from dlkit.models import build
from dlkit.recipe.schema import Recipe
from dlkit.tracking.store import check_readable, local_folder

META_KEY = "dlkit"
#: where a run keeps its best checkpoint among its artifacts
CHECKPOINT = "checkpoints/best.ckpt"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def recipe_hash(recipe: Recipe) -> str:
    """SHA-256 of the resolved recipe (canonical JSON)."""
    text = json.dumps(recipe.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_metadata(recipe: Recipe, info: DataInfo, run_id: str | None) -> dict[str, Any]:
    """What a checkpoint carries besides the weights (plain data only)."""
    return {
        "version": __version__,
        "run_id": run_id,
        "recipe": recipe.model_dump(mode="json"),
        "recipe_sha256": recipe_hash(recipe),
        "data_info": dataclasses.asdict(info),
    }


def info_from_dict(data: dict[str, Any]) -> DataInfo:
    """Rebuild a DataInfo saved with `dataclasses.asdict`."""
    fields = {f.name for f in dataclasses.fields(DataInfo)}
    values = {k: v for k, v in data.items() if k in fields}
    values["input_shape"] = tuple(values["input_shape"])
    values["categorical"] = [tuple(c) for c in values.get("categorical", [])]
    values["text_blocks"] = [TextBlock.read(c) for c in values.get("text_blocks", [])]
    values["image_blocks"] = [ImageBlock(**c) for c in values.get("image_blocks", [])]
    values["targets"] = [TargetInfo(**c) for c in values.get("targets", [])]
    return DataInfo(**values)


@contextmanager
def checkpoint_file(ref: str, tracking_uri: str, field: str) -> Iterator[tuple[Path, str | None]]:
    """A checkpoint file for the block and its run's status: the path itself (no status), or the best
    checkpoint of an MLflow run id.

    A run on a local store is read where it lies; one on a remote store is downloaded into a
    temporary folder that is removed when the block ends.
    """
    path = Path(ref).expanduser()
    if path.is_file():
        yield path, None
        return
    if path.is_dir():
        raise BadInput(f"{field}: {ref} is a folder; give a checkpoint file or a run id")
    if not _RUN_ID.match(ref):
        raise BadInput(f"{field}: '{ref}' is neither an existing checkpoint file nor an MLflow run id")
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        check_readable(tracking_uri)
    except BadInput as e:
        raise BadInput(f"{field}: run {ref}: {e.message}", hint=e.hint) from None
    client = MlflowClient(tracking_uri)
    try:
        run = client.get_run(ref)
    except MlflowException as e:
        raise BadInput(
            f"{field}: run {ref} not found in {tracking_uri} ({str(e).splitlines()[0]})",
            hint="pass --tracking-uri of the store that holds the run",
        ) from None
    missing = BadInput(
        f"{field}: run {ref} ({run.info.status}) has no checkpoints/best.ckpt artifact",
        hint="it stopped before its first checkpoint, or ran with tracking.log_checkpoint: false",
    )
    with artifact_file(client, run, CHECKPOINT, missing) as found:
        yield found, run.info.status


@contextmanager
def artifact_file(client: Any, run: Any, artifact: str, missing: BadInput) -> Iterator[Path]:
    """A run's artifact file for the block: read where it lies on a local store, downloaded from a remote one
    into a temporary folder removed when the block ends; `missing` is raised when the run has none."""
    from mlflow.exceptions import MlflowException

    folder = local_folder(run.info.artifact_uri)
    if folder is not None:
        if not (folder / artifact).is_file():
            raise missing
        yield folder / artifact
        return
    with tempfile.TemporaryDirectory(prefix="dlkit-artifact-") as tmp:
        try:
            downloaded = Path(client.download_artifacts(run.info.run_id, artifact, tmp))
        except (MlflowException, OSError):
            raise missing from None
        yield downloaded


def read_checkpoint(path: Path, field: str) -> dict[str, Any]:
    """Load a checkpoint as plain data and tensors only: pickled code is refused, never run."""
    import pickle

    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError, IndexError,
            KeyError, OSError, UnicodeDecodeError, OverflowError, MemoryError) as e:  # fmt: skip
        # any file can be given: torch.load of arbitrary bytes fails in many ways
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInput(
            f"{field}: {path} is not a safe checkpoint: {first[:200]}",
            hint="only checkpoints holding tensors and plain data load; objects and code are refused",
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise BadInput(f"{field}: {path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint  # type: ignore[no-any-return]


def backbone_state(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The backbone's tensors from a task checkpoint, with their names inside the backbone."""
    prefix = "backbone."
    return {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}


@dataclass
class Trained:
    """A trained backbone with the recipe and data description it was trained with."""

    recipe: Recipe
    info: DataInfo
    backbone: Any
    run_id: str | None
    path: Path


@dataclass
class DlkitCheckpoint:
    """A checkpoint dlkit wrote, read safely, with the recipe and data description it carries."""

    path: Path
    checkpoint: dict[str, Any]
    recipe: Recipe
    info: DataInfo
    run_id: str | None
    #: the MLflow status of the run it was read from (None for a checkpoint file given by path)
    status: str | None = None

    @property
    def unfinished(self) -> str | None:
        """A warning when the run did not finish: its best checkpoint is from before it stopped."""
        if self.status is None or self.status == "FINISHED":
            return None
        return f"run {self.run_id} is {self.status}, not FINISHED: its best checkpoint is from before it stopped"


def read_dlkit_checkpoint(ref: str, tracking_uri: str, field: str) -> DlkitCheckpoint:
    """The checkpoint of a run id or path, refused when dlkit did not write it."""
    with checkpoint_file(ref, tracking_uri, field) as (path, status):
        checkpoint = read_checkpoint(path, field)
    meta = checkpoint.get(META_KEY)
    if not isinstance(meta, dict):
        raise BadInput(f"{field}: {path} was not written by dlkit (no recipe inside)")
    recipe = Recipe.model_validate(meta["recipe"])
    return DlkitCheckpoint(path, checkpoint, recipe, info_from_dict(meta["data_info"]), meta.get("run_id"), status)


def load_trained(ref: str, tracking_uri: str, field: str = "checkpoint") -> Trained:
    """Rebuild the backbone of a dlkit run (id) or checkpoint (path), weights loaded, in eval mode."""
    found = read_dlkit_checkpoint(ref, tracking_uri, field)
    recipe, info, checkpoint, path = found.recipe, found.info, found.checkpoint, found.path
    backbone = build(recipe.model, info)
    backbone.load_state_dict(backbone_state(checkpoint))
    backbone.eval()
    return Trained(recipe, info, backbone, found.run_id, path)
