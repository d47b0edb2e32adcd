"""Which MLflow store a run goes to, and a check that it can be written before training starts."""

from __future__ import annotations

import os
from pathlib import Path

from dlkit.errors import BadInput, TrackingError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def resolve_tracking_uri(cli: str | None = None, recipe: str | None = None) -> str:
    """--tracking-uri, then MLFLOW_TRACKING_URI, then the recipe's tracking.tracking_uri, then the local default."""
    return cli or os.environ.get("MLFLOW_TRACKING_URI") or recipe or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for other stores)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :]).expanduser()


def local_artifact_root(uri: str) -> Path | None:
    """For a local SQLite store, the artifact folder beside the database file."""
    db = sqlite_path(uri)
    return db.resolve().parent / "mlruns" if db is not None else None


def check_writable(uri: str) -> None:
    """Fail early, naming the URI, when a local store's folder is missing or read-only."""
    db = sqlite_path(uri)
    if db is None:
        return
    folder = db.resolve().parent
    if not folder.is_dir():
        raise TrackingError(
            f"tracking store {uri}: folder {folder} does not exist", hint="create it or pass --tracking-uri"
        )
    if not os.access(folder, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
        raise TrackingError(
            f"tracking store {uri}: {folder} is not writable", hint="pass --tracking-uri to a writable place"
        )


def check_readable(uri: str) -> None:
    """A store to read from must exist: reading never creates an empty SQLite store by accident."""
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        raise BadInput(
            f"no MLflow store at {path} ({uri})",
            hint="run dlkit where you trained, or pass --tracking-uri / set MLFLOW_TRACKING_URI",
        )
