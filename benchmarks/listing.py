"""`dlkit runs ls` and `dlkit compare` on a store of 1,000 runs: at most 1 s and 2 s (medians of
alternating runs, bare Python beside them); `dlkit ui` answering no later than `mlflow ui` on it.

The store holds runs shaped like dlkit's own (the params, tags and metrics of an iris-mlp run, with
per-epoch histories), written through MLflow's client in batches; a tenth are k-fold parents with
children, so the listing also nests.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, alternate, dlkit, print_table

TARGET_S = 1.0
COMPARE_TARGET_S = 2.0
RUNS = 1000


def make_store(folder: Path, runs: int = RUNS) -> str:
    """A SQLite store holding `runs` finished runs; returns its URI."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("listing")
    params = [Param(f"section{i // 10}.field{i % 10}", str(i * 0.1)) for i in range(50)]
    params.append(Param("trainer.monitor", "val/loss"))
    now = int(time.time() * 1000)
    parent = None
    for i in range(runs):
        tags = [RunTag("dlkit.recipe", "iris-mlp"), RunTag("mlflow.runName", f"iris-mlp lr={i}")]
        if i % 10 == 0:
            parent = None
        if i % 100 == 1:  # a cross-validation parent, with the next few runs as its folds
            tags.append(RunTag("dlkit.folds", "5"))
        run = client.create_run(experiment, start_time=now + i, tags={t.key: t.value for t in tags})
        run_id = run.info.run_id
        if i % 100 == 1:
            parent = run_id
        elif parent is not None and i % 100 <= 6:
            client.set_tag(run_id, "mlflow.parentRunId", parent)
        metrics = [Metric(f"{split}/{name}", 0.5 + 0.01 * epoch, now, epoch)
                   for split in ("train", "val") for name in ("loss", "acc") for epoch in range(1, 11)]  # fmt: skip
        metrics += [Metric(f"test/{name}", 0.9, now, 10) for name in ("acc", "loss", "f1_macro", "roc_auc")]
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, "FINISHED", end_time=now + i + 1000)
    return uri


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ui_ready(command: list[str], port: int, timeout: float = 120.0) -> float:
    """Seconds from starting `command` until its HTTP server at `port` answers /; the process tree is stopped."""
    import os
    import signal
    import urllib.request

    start = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{command[0]} did not answer on port {port} within {timeout} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def ui_rows(uri: str, repeats: int) -> list[Row]:
    """`dlkit ui` against `mlflow ui` on the same store, alternating: time until the page answers."""
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    ours, theirs = [], []
    for _ in range(repeats):
        port = _free_port()
        ours.append(ui_ready([*dlkit(), "ui", "--port", str(port), "--tracking-uri", uri], port))
        port = _free_port()
        theirs.append(ui_ready([mlflow, "ui", "--port", str(port), "--backend-store-uri", uri], port))
    o, t = statistics.median(ours), statistics.median(theirs)
    return [Row("listing: dlkit ui ready vs mlflow ui on the same store", f"{o:.2f} s", f"{t:.2f} s",
                f"{o / t:.2f}x", "<= 1x", o <= t)]  # fmt: skip


def measure(repeats: int = 7, runs: int = RUNS) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        uri = make_store(Path(tmp), runs)
        import sqlite3

        with sqlite3.connect(Path(tmp) / "mlflow.db") as db:
            first, second = (r for (r,) in db.execute("SELECT run_uuid FROM runs ORDER BY start_time DESC LIMIT 2"))
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "dlkit runs ls": [*dlkit(), "runs", "ls", "--tracking-uri", uri],
            "dlkit runs ls --limit 1000": [*dlkit(), "runs", "ls", "--limit", "1000", "--tracking-uri", uri],
            "dlkit compare RUN RUN": [*dlkit(), "compare", first, second, "--tracking-uri", uri],
            "dlkit compare --experiment (50 newest)": [*dlkit(), "compare", "--experiment", "listing",
                                                       "--tracking-uri", uri],
        }  # fmt: skip
        medians = alternate(commands, repeats)
        served = ui_rows(uri, max(1, repeats // 2))
    bare = medians.pop("python -c pass")
    rows = []
    for name, seconds in medians.items():
        target = COMPARE_TARGET_S if "compare" in name else TARGET_S
        rows.append(Row(f"listing ({runs} runs): {name}", f"{seconds:.3f} s", f"{bare:.3f} s",
                        f"{seconds / bare:.1f}x", f"<= {target} s", seconds <= target))  # fmt: skip
    return rows + served


if __name__ == "__main__":
    print_table(measure())
