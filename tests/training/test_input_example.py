"""The logged model's input example is checked before training and served the way the run was trained:
a series with empty cells and data.impute trains, logs its model, and the model fills the gaps too."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from dlkit.data.raw_inputs import example_frame, from_frame
from dlkit.errors import DataError
from dlkit.recipe import load_text
from dlkit.training import run
from dlkit.training.prepare import prepare


def _series(path: Path) -> Path:
    months = pd.period_range("2010-01", periods=60, freq="M").astype(str)
    values = [float(i % 12 + i * 0.1) for i in range(60)]
    values[6] = values[20] = np.nan  # empty cells inside the first rows: the input example has one
    pd.DataFrame({"month": months, "value": values}).to_csv(path, index=False)
    return path


RECIPE = """\
name: gappy
task: forecasting
data: {{kind: timeseries, path: {path}, time_column: month, target: value, window: 6, impute: {impute}}}
model: {{arch: mlp, hidden: [16]}}
trainer: {{max_epochs: 2}}
"""


def test_a_series_with_empty_cells_trains_logs_its_model_and_serves_it(workdir: Path, tracking_uri: str) -> None:
    recipe = load_text(RECIPE.format(path=_series(workdir / "gappy.csv"), impute="interpolate"))
    result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    finished = MlflowClient(tracking_uri).get_run(result.run_id)
    assert finished.info.status == "FINISHED"
    model = mlflow.pyfunc.load_model(finished.data.tags["dlkit.model"])
    rows = pd.read_csv(workdir / "gappy.csv").head(12)
    predicted = model.predict(rows)
    assert len(predicted) == 12 - 6 + 1 and np.isfinite(predicted["value_t+1"]).all()


def test_the_input_example_goes_through_the_preprocessing_before_any_run(workdir: Path, tracking_uri: str) -> None:
    recipe = load_text(RECIPE.format(path=_series(workdir / "gappy.csv"), impute="ffill"))
    prepared = prepare(recipe, None, tracking_uri, served=True)
    assert prepared.example is not None and prepared.example["value"].isna().any()
    assert prepare(recipe, None, tracking_uri).example is None  # a nested run (fold, trial) logs no model
    # the same rows without the run's imputation are refused, which is what the check before training catches
    info = prepared.datamodule.info
    unfilled = recipe.model_copy(update={"data": recipe.data.model_copy(update={"impute": None})})
    try:
        from_frame(example_frame(unfilled, info), unfilled, info, "input example")
    except DataError as e:
        assert "input example: column 'value' is empty in data row 7" in e.message
    else:
        raise AssertionError("rows with empty cells went through a preprocessing that imputes nothing")
    assert not (workdir / "mlflow.db").exists()
