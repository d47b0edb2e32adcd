"""What pruning saves: a seeded 30-trial TPE search of digits-cnn with Hyperband pruning against the
same search without pruning. Epochs trained in all, and the best validation accuracy of each.

Target: the pruned search trains at most half the epochs, and its best is within 0.5 percentage points.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import optuna

from benchmarks.common import Row, dlkit, print_table

TRIALS = 30


def search(pruner: str, folder: Path) -> tuple[int, float, float]:
    """(epochs trained, best val/acc, wall seconds) of one search."""
    import time

    journal = folder / f"{pruner}.journal"
    start = time.perf_counter()
    subprocess.run(
        [
            *dlkit(), "tune", "digits-cnn", f"tune.pruner={pruner}", "tune.seed=0", "trainer.seed=0",
            "--trials", str(TRIALS), "--storage", str(journal), "--study", pruner,
            "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}", "--no-progress",
        ],
        cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name=pruner, storage=JournalStorage(JournalFileBackend(str(journal))))
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    return epochs, float(study.best_value), seconds


def measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full_epochs, full_best, full_s = search("none", folder)
        pruned_epochs, pruned_best, pruned_s = search("hyperband", folder)
    ratio = pruned_epochs / full_epochs
    gap = 100 * (full_best - pruned_best)
    return [
        Row(
            f"tuning: epochs of {TRIALS} trials, hyperband vs none",
            f"{pruned_epochs} ({pruned_s:.0f} s)",
            f"{full_epochs} ({full_s:.0f} s)",
            f"{ratio:.2f}x",
            "<= 0.5x",
            ratio <= 0.5,
        ),
        Row(
            "tuning: best val/acc, hyperband vs none",
            f"{pruned_best:.4f}",
            f"{full_best:.4f}",
            f"{-gap:+.2f} pp",
            ">= -0.5 pp",
            gap <= 0.5,
        ),
    ]


if __name__ == "__main__":
    print_table(measure())
