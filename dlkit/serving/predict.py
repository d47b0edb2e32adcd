"""Predictions of a finished run for new data, written as a CSV table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dlkit.atomic import write_atomically
from dlkit.data.raw_inputs import from_file, from_frame
from dlkit.errors import BadInput
from dlkit.process import heavy_imports
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.store import resolve_tracking_uri


def predict(
    run: str,
    input: Path | None,
    output: Path,
    tracking_uri: str | None = None,
    say: Callable[[str], None] = print,
    users: list[str] | None = None,
    top: int | None = None,
) -> int:
    """Predict `input` through the run's fitted preprocessing and best checkpoint (or, for a recommender,
    list the `top` items of `users`); returns the rows written."""
    heavy_imports()
    predictor = Predictor.load(run, resolve_tracking_uri(tracking_uri, None))
    if predictor.warning:
        say(f"warning: {predictor.warning}")
    if users:
        user_column = predictor.info.preprocessing.get("user_column")
        if user_column is None:
            kind = predictor.recipe.task.kind
            raise BadInput(f"--user: run {run} is a {kind} run; --user and --top apply to recommendation runs")
        import pandas as pd

        raw = from_frame(pd.DataFrame({user_column: users}), predictor.recipe, predictor.info, "--user")
    else:
        assert input is not None
        raw = from_file(input, predictor.recipe, predictor.info)
    table = predictor.frame(raw, top)
    write_atomically(output, table.to_csv(index=False).encode(), "--output")
    return len(table)
