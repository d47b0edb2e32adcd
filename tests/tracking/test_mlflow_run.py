"""The MLflow run wrapper on a real SQLite store: epoch metrics sent from a background thread arrive in
order, complete, before the run ends; a store that fails under them fails the run instead of losing it."""

from __future__ import annotations

import itertools
import time

import pytest
from mlflow import MlflowClient

from dlkit.errors import TrackingError
from dlkit.tracking import writer
from dlkit.tracking.mlflow_run import MlflowRun


def test_background_metrics_arrive_in_order_before_the_run_ends(tracking_uri: str) -> None:
    tracker = MlflowRun(tracking_uri, "bg", "bg", {})
    for epoch in range(50):
        tracker.log_metrics({"val/loss": 1.0 / (epoch + 1), "perf/epoch": float(epoch)}, step=epoch,
                            tags={"dlkit.heartbeat": str(epoch)}, background=True)  # fmt: skip
    tracker.log_metrics({"test/acc": 0.9}, step=50)  # a synchronous call waits for the pending ones first
    client = MlflowClient(tracking_uri)
    assert [p.step for p in client.get_metric_history(tracker.run_id, "val/loss")] == list(range(50))
    tracker.end("FINISHED")
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["dlkit.heartbeat"] == "49"  # the latest value of a repeated tag
    history = client.get_metric_history(tracker.run_id, "val/loss")
    assert [p.value for p in sorted(history, key=lambda p: p.step)] == pytest.approx([1.0 / (e + 1) for e in range(50)])


def test_metrics_merge_into_few_calls(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "WRITE_INTERVAL_S", 0.5)
    tracker = MlflowRun(tracking_uri, "bg", "merge", {})
    calls: list[int] = []
    real = tracker.client.log_batch

    def counting(run_id: str, metrics: list[object] = (), **kwargs: object) -> None:  # type: ignore[assignment]
        calls.append(len(metrics))
        real(run_id, metrics=metrics, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tracker.client, "log_batch", counting)
    for epoch in range(200):
        tracker.log_metrics({"train/loss": float(epoch)}, step=epoch, background=True)
    tracker.end("FINISHED")
    assert sum(calls) == 200 and len(calls) < 20  # 200 epochs in a handful of store transactions


def test_epochs_spread_over_time_are_sent_at_most_once_an_interval(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each epoch wakes the writer, but it sends again only once the interval is over (or at the end)."""
    monkeypatch.setattr(writer, "WRITE_INTERVAL_S", 0.4)
    tracker = MlflowRun(tracking_uri, "bg", "spread", {})
    sent: list[float] = []
    real = tracker.client.log_batch

    def timed(run_id: str, metrics: list[object] = (), **kwargs: object) -> None:  # type: ignore[assignment]
        sent.append(time.monotonic())
        real(run_id, metrics=metrics, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tracker.client, "log_batch", timed)
    start = time.monotonic()
    for epoch in range(60):  # 60 short epochs over about 1.2 s
        tracker.log_metrics({"train/loss": float(epoch)}, step=epoch, background=True)
        time.sleep(0.02)
    tracker.end("FINISHED")
    elapsed = time.monotonic() - start
    assert len(sent) <= elapsed / 0.4 + 2, sent  # the first send, one per interval, the final flush
    assert all(b - a >= 0.39 for a, b in itertools.pairwise(sent[:-1])), sent  # the last: the final flush
    history = MlflowClient(tracking_uri).get_metric_history(tracker.run_id, "train/loss")
    assert sorted(p.step for p in history) == list(range(60))


def test_a_failing_store_under_background_metrics_fails_the_run(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = MlflowRun(tracking_uri, "bg", "broken", {})
    real = tracker.client.log_batch

    def broken(run_id: str, metrics: list[object] = (), **kwargs: object) -> None:  # type: ignore[assignment]
        if metrics:
            raise OSError("disk full")
        real(run_id, metrics=metrics, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tracker.client, "log_batch", broken)
    tracker.log_metrics({"train/loss": 1.0}, step=0, background=True)
    with pytest.raises(TrackingError, match="disk full"):
        tracker.end("FINISHED")
    run = MlflowClient(tracking_uri).get_run(tracker.run_id)
    assert run.info.status == "FAILED" and run.data.tags["dlkit.failure"] == "tracking"  # never left RUNNING


def test_experiments_open_in_the_mlflow_ui_as_model_training(tracking_uri: str) -> None:
    """New and existing experiments get MLflow 3's model-training kind; a kind their owner chose stays."""
    client = MlflowClient(tracking_uri)
    with MlflowRun(tracking_uri, "fresh", "a", {}):
        pass
    client.create_experiment("older")
    client.create_experiment("traces", tags={"mlflow.experimentKind": "genai_development"})
    for name in ("older", "traces"):
        with MlflowRun(tracking_uri, name, "b", {}):
            pass
    kinds = {
        n: client.get_experiment_by_name(n).tags.get("mlflow.experimentKind") for n in ("fresh", "older", "traces")
    }
    assert kinds == {
        "fresh": "custom_model_development",
        "older": "custom_model_development",
        "traces": "genai_development",
    }


def test_unset_recipe_values_are_not_logged_as_params() -> None:
    from dlkit.recipe import load
    from dlkit.tracking.mlflow_run import flatten

    params = flatten(load("iris-mlp").model_dump(mode="json"))
    assert "None" not in params.values()
    assert "model.init_from" not in params and params["optim.lr"] and params["model.hidden"].startswith("[")
    assert flatten({"a": {"b": None, "c": []}, "d": {}}) == {"a.c": "[]", "d": "{}"}
