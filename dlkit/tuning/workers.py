"""The worker processes of `dlkit tune --jobs K`, started before the first process's own heavy imports.

A worker's start-up (torch, Lightning, MLflow, Optuna: several seconds) is most of what a second
process costs. The command line starts the workers first thing, so that they import while the
first process does the same; each then opens the study and waits for the hand-over: the id of
the study's parent MLflow run, written to a file by the first process once it exists (or "stop"
when there is nothing to do). No torch or Optuna import here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from dlkit.recipe.schema import Recipe

STOP = "stop"
#: how long a worker waits for its hand-over before giving up (the first process died or hangs)
HANDOVER_TIMEOUT_S = 900.0


def threads_per_worker(recipe: Recipe, jobs: int) -> int:
    """Each process's share of the cores (trainer.num_threads when the recipe sets it)."""
    return int(recipe.trainer.num_threads or max(1, (os.cpu_count() or 1) // jobs))


def portable_recipe(recipe: Recipe, folder: Path) -> Path:
    """The recipe as a file a worker process can load from any folder (paths made absolute)."""
    raw = recipe.model_dump(mode="json")
    for section, key in (("data", "path"), ("model", "init_from")):
        value = raw.get(section, {}).get(key)
        if isinstance(value, str) and value and Path(value).exists():
            raw[section][key] = str(Path(value).resolve())
    path = folder / f"{recipe.name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Workers:
    """K - 1 `dlkit tune --worker-of` processes beside this one, on the same study."""

    def __init__(
        self,
        recipe: Recipe,
        jobs: int,
        *,
        storage: str | None,
        study: str | None,
        trials: int | None,
        tracking_uri: str | None,
        experiment: str | None,
        timeout: float | None,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="dlkit-tune-"))
        self.handover = self.folder / "parent-run"
        threads = threads_per_worker(recipe, jobs)
        with_threads = recipe.model_copy(update={"trainer": recipe.trainer.model_copy(update={"num_threads": threads})})
        recipe_file = portable_recipe(with_threads, self.folder)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        options: list[str] = []
        for flag, value in (
            ("--storage", storage),
            ("--study", study),
            ("--trials", trials),
            ("--tracking-uri", tracking_uri),
            ("--experiment", experiment),
            ("--timeout", timeout),
        ):
            if value is not None:
                options += [flag, str(value)]
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.stopped = False
        for i in range(1, jobs):
            command = [
                sys.executable, "-m", "dlkit", "tune", str(recipe_file), *options,
                "--worker-of", f"file:{self.handover}", "--worker-index", str(i),
            ]  # fmt: skip
            log = self.folder / f"worker{i}.log"
            with log.open("wb") as out:
                # stop() interrupts workers with SIGINT: they must not inherit an ignored one (`dlkit tune ... &`)
                proc = subprocess.Popen(
                    command, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_default_sigint
                )
                self.procs.append((proc, log))

    def _write(self, text: str) -> None:
        partial = self.handover.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(self.handover)

    def hand_over(self, parent_run_id: str) -> None:
        """Let the workers start their trials, as children of this MLflow run."""
        self._write(parent_run_id)

    def release(self) -> None:
        """Tell the workers there is nothing to do: each exits as soon as it reads this."""
        self._write(STOP)

    def wait(self) -> list[str]:
        """Wait for every worker to finish; one line for each that failed."""
        problems = []
        for i, (proc, log) in enumerate(self.procs, start=1):
            proc.wait()
            if proc.returncode != 0:
                lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
                problems.append(f"worker {i} exited with code {proc.returncode}: {lines[-1]}")
        return problems

    def stop(self) -> None:
        """Tell waiting workers there is nothing to do, Ctrl-C the running ones (each fails and re-queues its
        trial), then kill any that lingers; remove the hand-over folder. Safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        if not self.handover.exists():
            self._write(STOP)
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.close()

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for_handover(worker_of: str) -> str | None:
    """A worker's parent run id: given directly, or read from the hand-over file once the first process
    writes it. None when told to stop, or when the first process is gone."""
    if not worker_of.startswith("file:"):
        return worker_of
    path = Path(worker_of[len("file:") :])
    parent_pid = os.getppid()
    deadline = time.monotonic() + HANDOVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if path.is_file():
            text = path.read_text().strip()
            return None if text == STOP else text
        if os.getppid() != parent_pid:  # the first process died: this one was re-parented
            return None
        time.sleep(0.05)
    return None
