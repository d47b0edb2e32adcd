"""CPU, memory, disk, network and GPU use during training, as MLflow's own system metrics (`system/...`,
the run's *System metrics* tab), when the recipe asks for them (`tracking.system_metrics: true`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from dlkit.tracking.mlflow_run import MlflowRun


@contextmanager
def system_metrics(run: MlflowRun | None, enabled: bool, interval: float, resumed: bool) -> Iterator[None]:
    """Sample every `interval` seconds while the block runs (a resumed run continues its steps)."""
    if run is None or not enabled:
        yield
        return
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    # MLflow logs "Started monitoring system metrics" at INFO for every run
    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    monitor = SystemMetricsMonitor(
        run.run_id, sampling_interval=interval, resume_logging=resumed, tracking_uri=run.tracking_uri
    )
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()
