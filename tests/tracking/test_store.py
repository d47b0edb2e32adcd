"""New SQLite stores: the first is migrated by MLflow and kept, empty, as a template; the next ones are
copies that MLflow opens as its own (Default experiment where it puts it, runs written and read back)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow.store.db.utils as db_utils
import pytest
from mlflow import MlflowClient

from dlkit.tracking import store


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "_READY", set())
    return tmp_path / "cache"


@pytest.fixture
def migrations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts MLflow's creation of a fresh database's tables (the real function runs)."""
    calls: list[str] = []
    real: Callable[..., Any] = db_utils._initialize_tables

    def counting(engine: Any) -> None:
        calls.append(str(engine.url))
        real(engine)

    monkeypatch.setattr(db_utils, "_initialize_tables", counting)
    return calls


def _rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(f"SELECT * FROM {table}"))


def test_a_second_new_store_is_a_copy_that_mlflow_opens_as_its_own(
    workdir: Path, cache: Path, migrations: list[str]
) -> None:
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    first, second = workdir / "a" / "mlflow.db", workdir / "b" / "mlflow.db"
    store.prepare_store(f"sqlite:///{first}")
    assert len(migrations) == 1
    (template,) = cache.glob("dlkit/mlflow-*-empty-store.db")
    assert _rows(template, "experiments") == [] and _rows(template, "alembic_version") == _rows(
        first, "alembic_version"
    )

    store.prepare_store(f"sqlite:///{second}")
    assert len(migrations) == 1  # copied, not migrated
    client = MlflowClient(f"sqlite:///{second}")
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location == MlflowClient(f"sqlite:///{first}").get_experiment("0").artifact_location
    experiment = client.create_experiment("copied", artifact_location=str(workdir / "b" / "mlruns"))
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "val/acc", 0.5, step=3)
    client.set_terminated(run.info.run_id)
    assert [p.value for p in client.get_metric_history(run.info.run_id, "val/acc")] == [0.5]
    assert _rows(template, "experiments") == []  # the template itself is never written to


def test_a_broken_template_falls_back_to_mlflow_migrating_the_store(
    workdir: Path, cache: Path, migrations: list[str]
) -> None:
    template = store._template_path()
    template.parent.mkdir(parents=True)
    template.write_bytes(b"not a database")
    db = workdir / "mlflow.db"
    store.prepare_store(f"sqlite:///{db}")
    assert len(migrations) == 1
    assert MlflowClient(f"sqlite:///{db}").get_experiment("0").name == "Default"


def test_an_unwritable_cache_only_means_migrating_each_new_store(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrations: list[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(store, "_READY", set())
    for name in ("one.db", "two.db"):
        store.prepare_store(f"sqlite:///{workdir / name}")
    assert len(migrations) == 2
    assert MlflowClient(f"sqlite:///{workdir / 'two.db'}").get_experiment("0").name == "Default"
