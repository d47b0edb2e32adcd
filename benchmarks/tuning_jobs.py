"""Tuning throughput: trials per hour with `dlkit tune --jobs 2` against `--jobs 1` on the same study settings.

Target on a 2-core machine: at least 1.7x.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, dlkit, print_table

TRIALS = 16
# trials of about six seconds (still short for real searches): the second worker's start-up (about 5 s of
# imports) is paid once per study, so very short trials understate what --jobs gives
OVERRIDES = ["trainer.max_epochs=120", "trainer.early_stopping=null", "tune.pruner=none", "tune.sampler=random"]


def trials_per_hour(jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        subprocess.run(
            [*dlkit(), "tune", "breast-cancer-mlp", *OVERRIDES, "--trials", str(TRIALS), "--jobs", str(jobs),
             "--storage", str(folder / "s.journal"), "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--no-progress"],
            cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return TRIALS * 3600 / (time.perf_counter() - start)


def measure(repeats: int = 2) -> list[Row]:
    one, two = [], []
    for _ in range(repeats):
        one.append(trials_per_hour(1))
        two.append(trials_per_hour(2))
    a, b = sorted(one)[len(one) // 2], sorted(two)[len(two) // 2]
    return [
        Row(
            "tuning: trials/hour, --jobs 2 vs --jobs 1",
            f"{b:,.0f}",
            f"{a:,.0f}",
            f"{b / a:.2f}x",
            ">= 1.7x",
            b / a >= 1.7,
        )
    ]


if __name__ == "__main__":
    print_table(measure())
