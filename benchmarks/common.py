"""Helpers for the benchmark scripts: timing subprocesses, alternating runs, a result table."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One line of the benchmark table."""

    name: str
    value: str
    baseline: str
    ratio: str
    target: str
    ok: bool | None

    def cells(self) -> list[str]:
        verdict = "" if self.ok is None else ("pass" if self.ok else "MISS")
        return [self.name, self.value, self.baseline, self.ratio, self.target, verdict]


def timed(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one run of `cmd`; raises if it fails."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def alternate(commands: dict[str, list[str]], repeats: int, cwd: Path | None = None) -> dict[str, float]:
    """Median wall time of each command, runs interleaved so that machine noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the file cache once
        timed(cmd, cwd)
    for _ in range(repeats):
        for name, cmd in commands.items():
            samples[name].append(timed(cmd, cwd))
    return {name: statistics.median(values) for name, values in samples.items()}


def paired_ratio(values: list[float], baselines: list[float]) -> float:
    """Median over the repeats of value / baseline, each pair measured side by side."""
    return statistics.median(v / b for v, b in zip(values, baselines, strict=True))


def peak_child_rss_mib() -> float:
    """Largest resident set of any finished child process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def dlkit() -> list[str]:
    return [sys.executable, "-m", "dlkit"]


def print_table(rows: list[Row]) -> None:
    header = ["benchmark", "value", "baseline", "ratio", "target", ""]
    table = [header, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def hand_epoch(backbone: Any, optimizer: Any, x: Any, y: Any, batch_size: int, loss_of: Any) -> None:
    """One epoch of the plainest training loop, the baseline of the throughput rows: shuffled index
    slices, forward, loss, backward, step."""
    import torch

    order = torch.randperm(len(x))
    for i in range(0, len(x), batch_size):
        idx = order[i : i + batch_size]
        loss = loss_of(backbone(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
