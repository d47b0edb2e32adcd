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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlkit import __version__
from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models import build
from dlkit.recipe.schema import Recipe
from dlkit.tracking.store import check_readable

META_KEY = "dlkit"
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
    return DataInfo(**values)


def find_checkpoint(ref: str, tracking_uri: str, field: str) -> Path:
    """A checkpoint file: the path itself, or the best checkpoint of an MLflow run id."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path
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
        client.get_run(ref)
        folder = Path(tempfile.mkdtemp(prefix="dlkit-ckpt-"))
        return Path(client.download_artifacts(ref, "checkpoints/best.ckpt", str(folder)))
    except MlflowException as e:
        raise BadInput(
            f"{field}: run {ref} not found in {tracking_uri} ({str(e).splitlines()[0]})",
            hint="pass --tracking-uri of the store that holds the run",
        ) from None
    except OSError:
        raise BadInput(f"{field}: run {ref} has no checkpoints/best.ckpt artifact") from None


def read_checkpoint(path: Path, field: str) -> dict[str, Any]:
    """Load a checkpoint as plain data and tensors only: pickled code is refused, never run."""
    import pickle

    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as e:
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


def read_dlkit_checkpoint(ref: str, tracking_uri: str, field: str) -> DlkitCheckpoint:
    """The checkpoint of a run id or path, refused when dlkit did not write it."""
    path = find_checkpoint(ref, tracking_uri, field)
    checkpoint = read_checkpoint(path, field)
    meta = checkpoint.get(META_KEY)
    if not isinstance(meta, dict):
        raise BadInput(f"{field}: {path} was not written by dlkit (no recipe inside)")
    recipe = Recipe.model_validate(meta["recipe"])
    return DlkitCheckpoint(path, checkpoint, recipe, info_from_dict(meta["data_info"]), meta.get("run_id"))


def load_trained(ref: str, tracking_uri: str, field: str = "checkpoint") -> Trained:
    """Rebuild the backbone of a dlkit run (id) or checkpoint (path), weights loaded, in eval mode."""
    found = read_dlkit_checkpoint(ref, tracking_uri, field)
    recipe, info, checkpoint, path = found.recipe, found.info, found.checkpoint, found.path
    backbone = build(recipe.model, info)
    backbone.load_state_dict(backbone_state(checkpoint))
    backbone.eval()
    return Trained(recipe, info, backbone, found.run_id, path)
