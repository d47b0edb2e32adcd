"""Distributed data parallel training on CPU: two processes (gloo), one MLflow run written by rank 0."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow


def test_ddp_on_cpu_trains_with_two_processes_and_one_run(workdir: Path) -> None:
    started = time.perf_counter()
    done = run_cli(
        "train", str(ROOT / "recipes" / "digits-mlp.yaml"),
        "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
        cwd=workdir, timeout=900,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    # rank 1 prints nothing: one summary, one run line
    assert done.stdout.count("test metrics") == 1 and done.stdout.count("run id") == 1

    client = MlflowClient("sqlite:///mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1, "only rank 0 creates an MLflow run"
    found = runs[0]
    assert found.info.status == "FINISHED"
    assert found.data.tags["dlkit.world_size"] == "2"
    # every epoch logged once (rank 1 logs nothing), and the metrics are those of a model that learned
    history = client.get_metric_history(found.info.run_id, "val/acc")
    steps = [point.step for point in history]
    assert steps == sorted(set(steps)) and len(steps) >= 5
    assert found.data.metrics["test/acc"] > 0.9
    assert 0.0 < found.data.metrics["train/loss"] < 0.5
    print(f"DDP digits-mlp, 2 CPU processes: {len(steps)} epochs, test/acc {found.data.metrics['test/acc']:.4f}, "
          f"{seconds:.1f} s")  # fmt: skip
