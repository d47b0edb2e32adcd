"""Tuning throughput: trials per hour with `dlkit tune --jobs 2` against `--jobs 1` on the same study settings.

Target on a 2-core machine: at least 1.7x.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import optuna

from benchmarks.common import Row, dlkit, paired_ratio, print_table

TRIALS = 32
# 32 trials of about 1.5 s (short for real searches): the start-up before the first trial (about 4.5 s of
# imports, each process its own) and the study's end (about 0.5 s) are paid once whatever --jobs is, so
# short studies understate what --jobs gives: with serial time S and trials of T seconds, the whole
# command gives (S + 32 T) / (S + 16 T') at best (T' a trial beside another); the second row shows the
# trials alone
OVERRIDES = ["trainer.max_epochs=120", "trainer.early_stopping=null", "tune.pruner=none", "tune.sampler=random"]


def trials_per_hour(jobs: int) -> tuple[float, float]:
    """Trials per hour of the whole command, and of its trial phase (first trial's start to last trial's end)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        subprocess.run(
            [*dlkit(), "tune", "breast-cancer-mlp", *OVERRIDES, "--trials", str(TRIALS), "--jobs", str(jobs),
             "--storage", str(folder / "s.journal"), "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--no-progress"],
            cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wall = time.perf_counter() - start
        storage = JournalStorage(JournalFileBackend(str(folder / "s.journal")))
        trials = optuna.load_study(study_name="breast-cancer-mlp", storage=storage).trials
        span = max(t.datetime_complete for t in trials if t.datetime_complete) - min(
            t.datetime_start for t in trials if t.datetime_start
        )
        return TRIALS * 3600 / wall, TRIALS * 3600 / span.total_seconds()


def measure(repeats: int = 2) -> list[Row]:
    one, two = [], []
    for _ in range(repeats):
        one.append(trials_per_hour(1))
        two.append(trials_per_hour(2))
    rows = []
    for i, (name, target) in enumerate((("", 1.7), (" (trial phase)", None))):
        a = statistics.median(r[i] for r in one)
        b = statistics.median(r[i] for r in two)
        ratio = paired_ratio([r[i] for r in two], [r[i] for r in one])
        rows.append(
            Row(f"tuning: trials/hour, --jobs 2 vs --jobs 1{name}", f"{b:,.0f}", f"{a:,.0f}", f"{ratio:.2f}x",
                f">= {target}x" if target else "", ratio >= target if target else None)
        )  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure())
