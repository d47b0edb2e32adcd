"""An MLflow server process (the UI and its REST API) that can be awaited and stopped with all its children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from dlkit.errors import BadInput, TrackingError
from dlkit.tracking.store import check_readable


class MlflowUI:
    """`mlflow ui` with one worker, in a session of its own so that stopping it stops every process it forked."""

    def __init__(self, tracking_uri: str, host: str, port: int) -> None:

        check_readable(tracking_uri)
        self.tracking_uri, self.host, self.port = tracking_uri, host, port
        self.everywhere = host in ("0.0.0.0", "::", "")
        shown = "127.0.0.1" if self.everywhere else host
        self.url = f"http://{shown}:{port}"  # what this process polls
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MlflowUI:
        import socket

        with socket.socket() as s:
            try:
                s.bind((self.host, self.port))
            except OSError as e:
                raise BadInput(f"--port {self.port}: cannot listen on {self.host} ({e.strerror})") from None
        command = [
            sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", self.tracking_uri,
            "--host", self.host, "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        self.proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    @property
    def addresses(self) -> list[str]:
        """Where people reach the UI: this machine's loopback and, bound to every interface, its network address."""
        if not self.everywhere:
            return [self.url]
        return [self.url, *(f"http://{ip}:{self.port}" for ip in _network_addresses())]

    def wait_ready(self, timeout: float) -> None:
        """Poll the health endpoint until the server answers."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                last = output.strip().splitlines()[-1] if output.strip() else f"exit code {self.proc.returncode}"
                raise TrackingError(f"the MLflow UI stopped at start: {last}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise TrackingError(f"the MLflow UI did not answer on {self.url} within {timeout:.0f} s")

    def wait(self) -> None:
        assert self.proc is not None
        if self.proc.stdout is not None:
            for _ in self.proc.stdout:  # drain its log so the pipe never fills
                pass
        self.proc.wait()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL for whatever is left after a few seconds."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # workers and queue consumers left behind
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


#: the MLflow 3 UI shows an experiment as model training (runs, models, metrics) with this query; without it,
#: a browser that never chose shows the GenAI overview (traces, latency) whatever the experiment's kind
MODEL_TRAINING = "workflowType=machine_learning"


def experiment_page(tracking_uri: str, experiment: str | None) -> tuple[str, str] | None:
    """(name, path below the UI's address) of an experiment's runs page: `experiment`, else the one of the latest run; None when
    the store has no run (or no experiment of that name)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise BadInput(f"--experiment {experiment!r}: no such experiment in {tracking_uri}")
        experiment_id = found.experiment_id
    else:
        ids = [e.experiment_id for e in client.search_experiments()]
        latest = client.search_runs(ids, max_results=1, order_by=["attributes.start_time DESC"]) if ids else []
        if not latest:
            return None
        experiment_id = latest[0].info.experiment_id
    name = client.get_experiment(experiment_id).name
    return name, f"/#/experiments/{experiment_id}/runs?{MODEL_TRAINING}"


def _network_addresses() -> list[str]:
    """The address other machines reach this one at: the one its default route leaves from (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            address = str(s.getsockname()[0])
        except OSError:
            return []
    return [] if address.startswith("127.") else [address]
