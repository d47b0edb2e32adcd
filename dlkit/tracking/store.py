"""Which MLflow store a run goes to, and a check that it can be written before training starts."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from dlkit.errors import BadInput, TrackingError
from dlkit.retry import retry_collisions

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
    if db.is_dir():
        raise TrackingError(
            f"tracking store {uri}: {db} is a folder, not a database file",
            hint=f"name a file in it: --tracking-uri sqlite:///{db / 'mlflow.db'}",
        )
    if not _is_sqlite_or_empty(db):
        raise TrackingError(
            f"tracking store {uri}: {db} is not an SQLite database", hint="name a new or existing mlflow.db"
        )
    folder = db.resolve().parent
    if not folder.is_dir():
        raise TrackingError(
            f"tracking store {uri}: folder {folder} does not exist", hint="create it or pass --tracking-uri"
        )
    if not os.access(folder, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
        raise TrackingError(
            f"tracking store {uri}: {folder} is not writable", hint="pass --tracking-uri to a writable place"
        )


def _is_sqlite_or_empty(db: Path) -> bool:
    """A new, empty or SQLite file (never opened when it is a FIFO or a device: reading one could block)."""
    if not db.exists():
        return True
    if not db.is_file():
        return False
    try:
        with db.open("rb") as f:
            head = f.read(16)
    except OSError:  # unreadable: the permission check says so
        return True
    return not head or head == b"SQLite format 3\x00"


def check_readable(uri: str) -> None:
    """A store to read from must exist: reading never creates an empty SQLite store by accident."""
    path = sqlite_path(uri)
    if path is not None and path.is_dir():
        raise BadInput(
            f"tracking store {uri}: {path} is a folder, not a database file", hint="name the mlflow.db in it"
        )
    if path is not None and not path.is_file():
        raise BadInput(
            f"no MLflow store at {path} ({uri})",
            hint="run dlkit where you trained, or pass --tracking-uri / set MLFLOW_TRACKING_URI",
        )


_READY: set[str] = set()


def prepare_store(uri: str) -> None:
    """Make the store usable before a run starts, once per process.

    SQLite: create or migrate the database under a file lock (two processes creating a fresh store at
    the same instant otherwise collide in MLflow's migrations), after dropping the temporary tables an
    interrupted migration leaves behind. HTTP: fail fast, naming the URI, when the server does not answer.
    """
    if uri in _READY:
        return
    db = sqlite_path(uri)
    if db is not None:
        check_writable(uri)
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(db.resolve()) + ".lock", timeout=300):
                _drop_interrupted_migration(db)
                fresh = not db.exists() or db.stat().st_size == 0
                copied = fresh and _copy_template(db)
                _open_store(uri)
                if fresh and not copied:
                    _save_template(db)
        except Timeout:
            raise TrackingError(f"tracking store {uri}: another process holds its lock for minutes") from None
        except TrackingError:
            raise
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise TrackingError(f"tracking store {uri}: {first}", hint="check --tracking-uri") from None
    elif uri.startswith(("http://", "https://")):
        _check_server(uri)
    _READY.add(uri)


def _open_store(uri: str, attempts: int = 4) -> None:
    """Create or migrate the store; a program other than dlkit may be migrating it at the same moment
    (it does not take dlkit's lock), so a collision is retried after it has had time to finish."""
    from mlflow import MlflowClient

    retry_collisions(
        lambda: MlflowClient(uri).search_experiments(max_results=1),
        attempts=attempts,
        pause=2.0,
        markers=("already exists",),
    )


def _template_path() -> Path:
    """An empty store of this MLflow version's schema, kept in the user's cache."""
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dlkit"
    return cache / f"mlflow-{version('mlflow')}-empty-store.db"


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (SQLite's backup API), the source opened read-only."""
    import sqlite3

    with (
        contextlib.closing(sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)) as reader,
        contextlib.closing(sqlite3.connect(target)) as writer,
    ):
        reader.backup(writer)


def _copy_template(db: Path) -> bool:
    """Start a new SQLite store as a copy of the cached empty one: MLflow's migrations of a fresh
    database take over a second; a copy takes milliseconds. MLflow adds the Default experiment
    (with this store's artifact location) when it opens the copy. False, and nothing left behind,
    when there is no template or it cannot be copied."""
    import sqlite3

    try:
        template = _template_path()
        if not template.is_file():
            return False
        _sqlite_copy(template, db)
        return True
    except (OSError, sqlite3.Error, RuntimeError, ImportError):
        with contextlib.suppress(OSError):
            db.unlink(missing_ok=True)
        return False


def _save_template(db: Path) -> None:
    """Keep a copy of a store MLflow has just created, less its Default experiment, for the next new store.

    Best effort: a cache that cannot be written only means the next new store is migrated again."""
    import sqlite3

    try:
        template = _template_path()
    except (OSError, RuntimeError, ImportError):  # no home folder, no MLflow metadata
        return
    if template.is_file():
        return
    partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(db, partial)
        with contextlib.closing(sqlite3.connect(partial)) as target:
            experiments = [row[0] for row in target.execute("SELECT experiment_id FROM experiments")]
            if experiments != [0]:  # something else already wrote to the store: not a clean template
                raise RuntimeError("not an empty store")
            target.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
            target.execute("DELETE FROM experiments WHERE experiment_id = 0")
            target.commit()
        partial.replace(template)
    except (OSError, sqlite3.Error, RuntimeError):
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _drop_interrupted_migration(db: Path) -> None:
    import sqlite3

    if not db.is_file() or db.stat().st_size == 0:
        return
    with sqlite3.connect(db) as connection:
        leftovers = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_alembic\\_tmp\\_%' ESCAPE '\\'"
            )
        ]
        for name in leftovers:
            connection.execute(f'DROP TABLE "{name}"')


def _check_server(uri: str) -> None:
    import urllib.error
    import urllib.request

    # MLflow retries unreachable servers for minutes by default
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
            pass
    except urllib.error.HTTPError:
        return  # it answered (a proxy or an old server without /health): reachable
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise TrackingError(
            f"tracking server {uri} is unreachable ({reason})", hint="start it, or check --tracking-uri"
        ) from None


def local_folder(uri: str) -> Path | None:
    """The folder an artifact URI names when it is on this machine (a plain path or file://), else None."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    return None
