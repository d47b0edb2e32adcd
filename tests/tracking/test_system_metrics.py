"""System metrics on request: MLflow's own monitor samples the machine during a real training run."""

from __future__ import annotations

from mlflow import MlflowClient

from dlkit.recipe import load
from dlkit.training import run


def test_system_metrics_are_recorded_only_when_asked(tracking_uri: str) -> None:
    slow = ["trainer.max_epochs=200", "trainer.early_stopping=null", "trainer.num_threads=1"]
    asked = run(
        load("iris-mlp", [*slow, "tracking.system_metrics=true", "tracking.system_metrics_interval=1"]),
        tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False,
    )  # fmt: skip
    plain = run(load("iris-mlp", ["trainer.max_epochs=1"]), tracking_uri=tracking_uri, say=lambda _: None)
    client = MlflowClient(tracking_uri)
    metrics = client.get_run(asked.run_id).data.metrics
    assert "system/cpu_utilization_percentage" in metrics and "system/system_memory_usage_megabytes" in metrics
    assert not [k for k in client.get_run(plain.run_id).data.metrics if k.startswith("system/")]
