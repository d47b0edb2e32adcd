"""Training on a busy machine: `dlkit train` against a hand-written loop, with one CPU-bound process per
core competing (busy) and with none (idle).

PyTorch takes every core, and its OpenMP threads spin while they wait for each other; when another
process holds a core, a spinning thread keeps the one it waits for off the CPU. A run that sets no
threads (trainer.num_threads, OMP_NUM_THREADS) takes the cores the kernel sees free when it starts
(`dlkit.process.training_threads`). Rows:

- dlkit against the hand loop with PyTorch's defaults, busy: target >= 3x;
- dlkit against the best hand setting (the fastest of 1 or all threads, spinning or passive), idle:
  target >= 0.95x (the default must cost nothing on a free machine); busy, for reference.

Every measurement is a fresh process (thread settings and OpenMP's policy are per process): samples
per second over the training part of epochs 2..E, the median epoch; dlkit's from its own
perf/train_samples_per_sec. Workloads: a GRU forecaster (window 48, batch 32, hidden 64) on a
3,000-step series, and digits-mlp.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import ROOT, Row, print_table

EPOCHS = 4
#: (name, recipe, overrides); the series file is written into the run's folder
WORKLOADS = {
    "GRU forecaster": ("sunspots-gru", ["data.path={series}", "data.time_column=t", "data.target=y", "data.window=48"]),
    "digits-mlp": ("digits-mlp", []),
}
HAND_SETTINGS = {  # name -> (threads, OMP_WAIT_POLICY or None for OpenMP's default)
    "1 thread": (1, None),
    "1 thread, passive": (1, "PASSIVE"),
    "all threads": (0, None),
    "all threads, passive": (0, "PASSIVE"),
}


def write_series(path: Path, steps: int = 3000) -> Path:
    import numpy as np
    import pandas as pd

    t = np.arange(steps)
    y = np.sin(t / 20) + 0.3 * np.sin(t / 3.7) + 0.1 * np.random.default_rng(0).normal(size=steps)
    pd.DataFrame({"t": t, "y": y}).to_csv(path, index=False)
    return path


def _overrides(name: str, folder: Path) -> tuple[str, list[str]]:
    recipe, extra = WORKLOADS[name]
    series = folder / "series.csv"
    if not series.exists():
        write_series(series)
    fixed = ["trainer.early_stopping=null", f"trainer.max_epochs={EPOCHS}"]
    return recipe, [*fixed, *(e.format(series=series) for e in extra)]


def hand_loop(name: str, folder: Path, threads: int) -> float:
    """Samples per second of the plain loop of `benchmarks.throughput` on this workload (in this process)."""
    import torch

    from benchmarks import throughput

    if threads:
        torch.set_num_threads(threads)
    recipe_name, overrides = _overrides(name, folder)
    return throughput.hand_loop(recipe_name, overrides, EPOCHS)


def _env(policy: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def hand(name: str, folder: Path, threads: int, policy: str | None) -> float:
    """`hand_loop` in a fresh process with the given threads and wait policy."""
    code = f"from benchmarks.contention import hand_loop; from pathlib import Path; print(hand_loop({name!r}, Path({str(folder)!r}), {threads}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(policy), capture_output=True, text=True,
                          timeout=1800, check=True)  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def dlkit(name: str, folder: Path) -> float:
    """Median samples per second of epochs 2..E of `dlkit train` on this workload."""
    return run_dlkit(*_overrides(name, folder), folder)


def run_dlkit(recipe: str, overrides: list[str], folder: Path) -> float:
    """Median samples per second of epochs 2..E of `dlkit train`, as a user runs it (its own defaults)."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "dlkit", "train", recipe, *overrides, "tracking.log_model=false",
         "tracking.log_checkpoint=false", "--tracking-uri", uri, "--no-progress"],
        cwd=folder, env=_env(None), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    run_id = next(line.split()[-1] for line in done.stdout.splitlines() if line.startswith("run id"))
    return samples_per_sec(uri, run_id)


def samples_per_sec(uri: str, run_id: str) -> float:
    """Median samples per second of a finished run's epochs 2..E, read in a fresh process."""
    code = (
        "import json, sys; from mlflow import MlflowClient; "
        "h = MlflowClient(sys.argv[1]).get_metric_history(sys.argv[2], 'perf/train_samples_per_sec'); "
        "print(json.dumps([p.value for p in sorted(h, key=lambda p: p.step)]))"
    )
    read = subprocess.run([sys.executable, "-c", code, uri, run_id], capture_output=True, text=True, check=True)
    return statistics.median(json.loads(read.stdout)[1:])


@contextmanager
def busy() -> Iterator[None]:
    """One CPU-bound process per core for as long as the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    time.sleep(0.5)
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait(timeout=30)


def _measure(name: str, folder: Path, repeats: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"dlkit": [], **{k: [] for k in HAND_SETTINGS}}
    for _ in range(repeats):  # alternate, so that machine noise hits every setting alike
        samples["dlkit"].append(dlkit(name, folder))
        for setting, (threads, policy) in HAND_SETTINGS.items():
            samples[setting].append(hand(name, folder, threads, policy))
    return {k: statistics.median(v) for k, v in samples.items() if v}


def measure(repeats: int = 3, names: tuple[str, ...] = tuple(WORKLOADS)) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            idle = _measure(name, folder, repeats)
            with busy():
                loaded = _measure(name, folder, repeats)
        for state, rates in (("busy", loaded), ("idle", idle)):
            best_setting = max(HAND_SETTINGS, key=lambda k: rates[k])
            # PyTorch's defaults: every core, OpenMP's own wait policy
            ours, default, best = rates["dlkit"], rates["all threads"], rates[best_setting]
            if state == "busy":
                rows.append(Row(
                    f"contention: {name}, busy, dlkit vs hand loop (PyTorch defaults)", f"{ours:,.0f}/s",
                    f"{default:,.0f}/s", f"{ours / default:.2f}x", ">= 3x", ours / default >= 3,
                ))  # fmt: skip
            target = 0.95 if state == "idle" else None
            rows.append(Row(
                f"contention: {name}, {state}, dlkit vs best hand setting ({best_setting})", f"{ours:,.0f}/s",
                f"{best:,.0f}/s", f"{ours / best:.2f}x", f">= {target}x" if target else "",
                ours / best >= target if target else None,
            ))  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure(names=tuple(sys.argv[1:]) or tuple(WORKLOADS)))
