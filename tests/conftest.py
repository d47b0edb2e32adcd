"""Shared fixtures: an isolated working directory with its own MLflow store, and CLI helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # parallel test workers share the cores: one thread each, or torch's thread pools fight over them
    import torch

    torch.set_num_threads(1)
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """dlkit keeps an empty MLflow store in the user's cache (XDG_CACHE_HOME); tests keep theirs apart."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory; MLflow writes to its own sqlite:///mlflow.db there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture
def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `python -m dlkit ARGS` in a subprocess, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "dlkit", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def _forget_mlflow_stores() -> None:
    """Drop MLflow's stores and database engines, which it keeps per URI string for the life of the process."""
    from mlflow.store.jobs.sqlalchemy_store import SqlAlchemyJobStore
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    TrackingStoreRegistry._get_store_with_resolved_uri.cache_clear()
    ModelRegistryStoreRegistry._get_store_with_resolved_uri.cache_clear()
    for store in (TrackingStore, RegistryStore, SqlAlchemyJobStore):
        for engine in store._engine_map.values():
            engine.dispose()
        store._engine_map.clear()


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run dlkit's entry point in this process, from `cwd` with `env` added: the same parsing, error
    handling, messages and exit code as `run_cli`, without a new interpreter importing torch and
    Lightning again. `run_cli` stays for what needs a process of its own: signals, locks, imports, a
    terminal, a process tree."""
    import contextlib
    import io
    import signal
    import tempfile

    from dlkit.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_tmp = dict(os.environ), Path.cwd(), tempfile.tempdir
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    saved_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.update(env or {})
    tempfile.tempdir = None  # read $TMPDIR again, as a new process would
    _forget_mlflow_stores()  # MLflow keeps a store per URI string: sqlite:///mlflow.db means another file here
    os.chdir(cwd)
    code: int = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run(list(args))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        if saved_threads:  # a command sets the threads it trains with: this worker keeps its own
            sys.modules["torch"].set_num_threads(saved_threads)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        tempfile.tempdir = saved_tmp
        signal.signal(signal.SIGTERM, saved_sigterm)
    return subprocess.CompletedProcess(["dlkit", *args], code, out.getvalue(), err.getvalue())


def train_in(folder: Path, recipe: str, overrides: list[str]) -> Any:
    """A real, quiet training run of a recipe with overrides, tracked in `folder`'s SQLite store."""
    from dlkit.recipe import load
    from dlkit.training import run

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return run(load(recipe, overrides), tracking_uri=uri, say=lambda _: None, progress_bar=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Callable[[str], str]]:
    """A PostgreSQL server of this test session; call the fixture's value with a name to get a fresh database URL."""
    from tests.postgres import postgres_server

    yield from postgres_server()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written to: a read-only tmpfs mount (as root), else a folder without write
    permission (as another user); skipped where neither holds."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True, timeout=30
        )
        mounted = done.returncode == 0
    else:
        folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("no read-only folder can be made here: root without permission to mount")
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False, timeout=30)
        else:
            folder.chmod(0o755)
