"""What each private Lightning API dlkit keeps for speed buys, measured with it and without it.

A private API stays only where it gains at least 10 % on a bundled recipe (docs/pages/performance.md
lists each survivor with its figure, and what the ones that fell short measured):

- the checkpoints' time budget (`CheckpointWriter`, a public CheckpointIO plugin, and `LastCheckpoint` over
  `ModelCheckpoint._should_skip_saving_checkpoint`, which skips gathering a resume checkpoint the writer
  would only hold), on the wall time of a small, short-epoch run (iris-mlp, 120 epochs), against writing
  both files every time they are asked for.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, paired_ratio, print_table

TARGET = 1.10


def _short_run_seconds() -> float:
    from dlkit.recipe import load
    from dlkit.training import run

    recipe = load("iris-mlp", ["trainer.early_stopping=null", "trainer.max_epochs=120", "tracking.enabled=false"])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run(recipe, tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}", say=lambda _: None, progress_bar=False)
        return time.perf_counter() - start


def measure(repeats: int = 5) -> list[Row]:
    from dlkit.process import heavy_imports
    from dlkit.training.checkpointing import CheckpointWriter

    heavy_imports()
    rows: list[Row] = []
    budget = CheckpointWriter.budget
    within: list[float] = []
    every: list[float] = []
    try:
        for _ in range(repeats):
            for value, out in ((budget, within), (float("inf"), every)):
                CheckpointWriter.budget = value  # an infinite budget writes every checkpoint asked for
                out.append(_short_run_seconds())
    finally:
        CheckpointWriter.budget = budget
    gain = paired_ratio(every, within)
    rows.append(
        Row("lever: checkpoint write budget, iris-mlp 120 epochs", f"{statistics.median(within):.2f} s",
            f"{statistics.median(every):.2f} s", f"{gain:.2f}x", f">= {TARGET}x to keep", gain >= TARGET)
    )  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure())
