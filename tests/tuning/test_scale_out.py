"""Scale-out for real: two `dlkit tune` workers on one PostgreSQL study, logging to an `mlflow server` whose
backend store is PostgreSQL too; the runs are read back through the server's REST API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.postgres import free_port
from tests.tuning.test_workers import RECIPE

pytestmark = pytest.mark.slow


def _call(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


@pytest.fixture
def mlflow_server(workdir: Path, postgres: Callable[[str], str]) -> Iterator[str]:
    """`mlflow server` on a loopback port, backend store in PostgreSQL, artifacts served from a folder."""
    backend = postgres("mlflow_backend").replace("postgresql://", "postgresql+psycopg://", 1)
    port = free_port()
    log = (workdir / "mlflow-server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
         "--artifacts-destination", str(workdir / "served-artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (workdir / "mlflow-server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the MLflow server did not answer within 120 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_two_workers_on_postgresql_log_to_an_mlflow_server_with_a_database_backend(
    workdir: Path, postgres: Callable[[str], str], mlflow_server: str
) -> None:
    recipe = workdir / "iris-workers.yaml"
    # about four seconds a trial: the second worker (its imports, its connections) starts while the
    # first still has trials to run, even on a busy machine
    recipe.write_text(RECIPE.replace("max_epochs: 30", "max_epochs: 60"))
    study = postgres("optuna_study")
    started = time.perf_counter()
    done = run_cli(
        "tune", str(recipe), "--trials", "4", "--jobs", "2", "--storage", study, "--tracking-uri", mlflow_server,
        cwd=workdir, timeout=900,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "worker 1 exited" not in done.stdout, done.stdout[-2000:]

    # everything below comes from the server's REST API, as another machine would see it
    api = f"{mlflow_server}/api/2.0/mlflow"
    experiments = _call(f"{api}/experiments/search", {"max_results": 100})["experiments"]
    ids = [e["experiment_id"] for e in experiments]
    runs = _call(f"{api}/runs/search", {"experiment_ids": ids, "max_results": 1000}).get("runs", [])

    def tags(run: dict[str, Any]) -> dict[str, str]:
        return {t["key"]: t["value"] for t in run["data"].get("tags", [])}

    parents = [r for r in runs if "mlflow.parentRunId" not in tags(r)]
    children = [r for r in runs if "mlflow.parentRunId" in tags(r)]
    assert len(parents) == 1 and parents[0]["info"]["status"] == "FINISHED"
    parent_id = parents[0]["info"]["run_id"]
    described = [(tags(c).get("dlkit.trial"), tags(c).get("dlkit.trial_state"), c["info"]["status"]) for c in children]
    assert len(children) == 4, (described, done.stdout[-3000:])
    assert all(tags(c)["mlflow.parentRunId"] == parent_id for c in children)
    assert all(c["info"]["status"] == "FINISHED" for c in children)
    assert len({tags(c)["dlkit.pid"] for c in children}) == 2, "both workers ran trials"
    assert sorted(int(tags(c)["dlkit.trial"]) for c in children) == [0, 1, 2, 3]
    # the parent's artifacts (trials table, best recipe) went through the server to its artifact store
    listed = _call(f"{api}/artifacts/list?run_id={parent_id}")
    names = {f["path"] for f in listed.get("files", [])}
    assert {"best-recipe.yaml", "trials.csv"} <= names, names
    with urllib.request.urlopen(f"{mlflow_server}/get-artifact?path=best-recipe.yaml&run_uuid={parent_id}") as answer:
        assert answer.read().decode().startswith("# dlkit train best-recipe.yaml")
    print(f"two tune workers, PostgreSQL study, MLflow server on PostgreSQL: 4 trials in {seconds:.1f} s")
