"""Predictions of a finished run for new data, written as a CSV table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dlkit.atomic import write_atomically
from dlkit.data.raw_inputs import from_file
from dlkit.process import heavy_imports
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.store import resolve_tracking_uri


def predict(
    run: str, input: Path, output: Path, tracking_uri: str | None = None, say: Callable[[str], None] = print
) -> int:
    """Predict `input` through the run's fitted preprocessing and best checkpoint; returns the rows written."""
    heavy_imports()
    predictor = Predictor.load(run, resolve_tracking_uri(tracking_uri, None))
    if predictor.warning:
        say(f"warning: {predictor.warning}")
    table = predictor.frame(from_file(input, predictor.recipe, predictor.info))
    write_atomically(output, table.to_csv(index=False).encode(), "--output")
    return len(table)
