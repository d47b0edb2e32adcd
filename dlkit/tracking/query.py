"""Runs read back from the store: listings with their parent/child structure, and side-by-side comparisons."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlkit import metric_names
from dlkit.errors import BadInput, TrackingError
from dlkit.tracking.store import check_readable


@dataclass
class RunRow:
    run_id: str
    name: str
    experiment: str
    status: str
    recipe: str
    metric: str
    value: float | None
    seconds: float | None
    parent: str | None
    children: list[RunRow] = field(default_factory=list)


def client_for(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    check_readable(tracking_uri)
    return MlflowClient(tracking_uri)


def experiments(client: Any, name: str | None) -> dict[str, str]:
    """Experiment id -> name: the one named, or every experiment in the store."""
    if name is not None:
        found = client.get_experiment_by_name(name)
        if found is None:
            known = ", ".join(e.name for e in client.search_experiments()) or "none"
            raise BadInput(f"--experiment: no experiment named '{name}' (experiments: {known})")
        return {found.experiment_id: found.name}
    return {e.experiment_id: e.name for e in client.search_experiments()}


def key_metric(run: Any) -> tuple[str, float | None]:
    """The number that sums a run up: the best value of a study, the test value of the monitored metric, ..."""
    metrics = run.data.metrics
    tags = run.data.tags
    if "dlkit.study" in tags and "dlkit.trial" not in tags:
        first = tags.get("dlkit.metric", "").split(", ")[0]
        return f"best/{first}", metrics.get(f"best/{first}")
    monitor = run.data.params.get("trainer.monitor", "")
    if monitor.startswith("val/") and f"test/{monitor[4:]}" in metrics:
        return f"test/{monitor[4:]}", metrics[f"test/{monitor[4:]}"]
    if monitor in metrics:
        return monitor, metrics[monitor]
    for name in ("test/acc", "test/rmse", "test/mse", "cv/test/acc_mean", "test/class_fidelity"):
        if name in metrics:
            return name, metrics[name]
    return "", None


def list_runs(tracking_uri: str, experiment: str | None = None, limit: int = 200) -> list[RunRow]:
    """Top-level runs, newest first, each with its child runs (folds, trials)."""
    from dlkit.tracking.store import sqlite_path

    path = sqlite_path(tracking_uri)
    found = None
    if path is not None:
        check_readable(tracking_uri)
        found = sqlite_runs(path, experiment, limit)
    if found is None:
        client = client_for(tracking_uri)
        names = experiments(client, experiment)
        if not names:
            return []
        try:
            runs = client.search_runs(list(names), max_results=limit, order_by=["attributes.start_time DESC"])
        except Exception as e:
            raise TrackingError(f"tracking store {tracking_uri}: {str(e).splitlines()[0]}") from None
    else:
        names, runs = found
    rows: dict[str, RunRow] = {}
    for run in runs:
        info = run.info
        metric, value = key_metric(run)
        seconds = (info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else None
        rows[info.run_id] = RunRow(
            info.run_id,
            info.run_name or "",
            names.get(info.experiment_id, info.experiment_id),
            "RUNNING (stale)" if is_stale(run) else info.status,
            run.data.tags.get("dlkit.recipe", ""),
            metric,
            value,
            seconds,
            run.data.tags.get("mlflow.parentRunId"),
        )
    top: list[RunRow] = []
    for row in rows.values():
        parent = rows.get(row.parent) if row.parent else None
        if parent is not None:
            parent.children.append(row)
        else:
            top.append(row)
    for row in rows.values():
        row.children.sort(key=lambda r: r.name)
    return top


@dataclass
class Comparison:
    runs: list[Any]
    params: dict[str, list[str]]
    metrics: dict[str, list[float | None]]


def compare(
    tracking_uri: str, run_ids: list[str], experiment: str | None = None, metric: str | None = None
) -> Comparison:
    """Parameters that differ between the runs, and their metrics (the latest value, as the MLflow UI shows)."""
    runs = _compared_runs(tracking_uri, run_ids, experiment)
    if len(runs) < 2:
        raise BadInput("compare needs at least two runs", hint="give run ids or an --experiment with two runs")
    keys = sorted({k for r in runs for k in r.data.params})
    params = {k: [r.data.params.get(k, "") for r in runs] for k in keys}
    differing = {k: v for k, v in params.items() if len(set(v)) > 1}
    names = sorted({k for r in runs for k in r.data.metrics})
    if metric is not None:
        if metric not in names:
            raise BadInput(f"--metric: no run logged '{metric}'; logged: {', '.join(names[:15])}")
        names = [metric]
    else:
        names = [
            n
            for n in names
            if not metric_names.is_per_class(n)
            and not metric_names.is_by_group(n)
            and not n.startswith(("train/", "val/"))
        ] or names
        key, _ = key_metric(runs[0])
        if key in names:  # the number that sums the runs up comes first (and is the one -o x.png draws)
            names = [key, *(n for n in names if n != key)]
    metrics = {n: [r.data.metrics.get(n) for r in runs] for n in names}
    return Comparison(runs, differing, metrics)


def sqlite_runs(
    path: Path, experiment: str | None, limit: int, run_ids: list[str] | None = None, params: bool = False
) -> tuple[dict[str, str], list[Any]] | None:
    """The listing read straight from a SQLite store: what `runs ls` shows, without loading MLflow (most of
        the command's time) or every run's params. Runs look like MLflow's (`info`, `data.metrics/params/tags`),
        with only the params the listing reads (all of them with `params`); `run_ids`: those runs, in that
    order, whatever their experiment (a missing one is left out). None when the schema is not the one
    expected: then MLflow reads."""
    import sqlite3
    from types import SimpleNamespace

    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return None
    try:
        rows = db.execute("SELECT experiment_id, name FROM experiments WHERE lifecycle_stage = 'active'").fetchall()
        names = {str(i): n for i, n in rows}
        if experiment is not None:
            names = {i: n for i, n in names.items() if n == experiment}
            if not names:
                known = ", ".join(n for _, n in rows) or "none"
                raise BadInput(f"--experiment: no experiment named '{experiment}' (experiments: {known})")
        if not names:
            return {}, []
        marks = ",".join("?" * len(names))
        columns = "SELECT run_uuid, name, status, start_time, end_time, experiment_id FROM runs "
        if run_ids is not None:
            marks = ",".join("?" * len(run_ids))
            by_id = {r[0]: r for r in db.execute(f"{columns} WHERE run_uuid IN ({marks})", run_ids)}
            found = [by_id[i] for i in run_ids if i in by_id]
        else:
            found = db.execute(
                f"{columns} WHERE lifecycle_stage = 'active' AND experiment_id IN ({marks}) "
                "ORDER BY start_time DESC, run_uuid LIMIT ?",
                [*names, limit],
            ).fetchall()
        runs: dict[str, Any] = {}
        for run_id, name, status, start, end, experiment_id in found:
            info = SimpleNamespace(run_id=run_id, run_name=name, status=status, start_time=start, end_time=end,
                                   experiment_id=str(experiment_id))  # fmt: skip
            runs[run_id] = SimpleNamespace(info=info, data=SimpleNamespace(metrics={}, params={}, tags={}))
        ids = list(runs)
        for start in range(0, len(ids), 500):  # SQLite's limit on bound values
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value, is_nan, run_id in db.execute(
                f"SELECT key, value, is_nan, run_uuid FROM latest_metrics WHERE run_uuid IN ({marks})", chunk
            ):
                runs[run_id].data.metrics[key] = float("nan") if is_nan else float(value)
            for key, value, run_id in db.execute(
                f"SELECT key, value, run_uuid FROM tags WHERE run_uuid IN ({marks})", chunk
            ):
                runs[run_id].data.tags[key] = value
            which = "" if params else "key = 'trainer.monitor' AND "
            for key, value, run_id in db.execute(
                f"SELECT key, value, run_uuid FROM params WHERE {which}run_uuid IN ({marks})", chunk
            ):
                runs[run_id].data.params[key] = value
        for run in runs.values():
            run.info.run_name = run.data.tags.get("mlflow.runName", run.info.run_name)
        return names, list(runs.values())
    except sqlite3.Error:
        return None
    finally:
        db.close()


def _compared_runs(tracking_uri: str, run_ids: list[str], experiment: str | None) -> list[Any]:
    """The runs named (in order), or an experiment's 50 newest top-level runs; straight from a SQLite store."""
    from dlkit.tracking.store import sqlite_path

    path = sqlite_path(tracking_uri)
    if path is not None:
        check_readable(tracking_uri)
        found = sqlite_runs(path, None if run_ids else experiment, 50, run_ids or None, params=True)
        if found is not None:
            runs = found[1]
            if run_ids:
                missing = [r for r in run_ids if r not in {run.info.run_id for run in runs}]
                if missing:
                    raise BadInput(f"run {missing[0]} not found in {tracking_uri}")
                return runs
            return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    from mlflow.exceptions import MlflowException

    client = client_for(tracking_uri)
    if run_ids:
        out = []
        for run_id in run_ids:
            try:
                out.append(client.get_run(run_id))
            except MlflowException:
                raise BadInput(f"run {run_id} not found in {tracking_uri}") from None
        return out
    ids = list(experiments(client, experiment))
    return [
        r
        for r in client.search_runs(ids, max_results=50, order_by=["attributes.start_time DESC"])
        if "mlflow.parentRunId" not in r.data.tags
    ]


STALE_AFTER_S = 1800.0


def is_stale(run: Any, now: float | None = None) -> bool:
    """A RUNNING run whose process is gone: same host and no such process, or no heartbeat for half an hour."""
    import os
    import socket
    import time

    if run.info.status != "RUNNING":
        return False
    tags = run.data.tags
    pid = tags.get("dlkit.pid", "")
    if tags.get("dlkit.host") == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    beat = tags.get("dlkit.heartbeat", "")
    if beat.replace(".", "", 1).isdigit():
        return (now or time.time()) - float(beat) > STALE_AFTER_S
    return False
