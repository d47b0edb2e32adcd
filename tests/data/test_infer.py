"""A recipe from the data: what dlkit infers from real files, `dlkit init`, and `dlkit train FILE --target COL`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dlkit import data
from dlkit.cli.from_data import render
from dlkit.data.infer import draft
from dlkit.errors import DataError
from dlkit.recipe import load
from dlkit.recipe.loader import load_text
from dlkit.yaml_io import parse
from tests.conftest import cli


def inferred(path: Path, target: str | None, *time: str) -> object:
    found = draft(str(path), target, list(time) or None)
    return load_text(render(found, str(path)), source=str(path))


def test_table_roles_are_inferred(tmp_path: Path, wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    frame.insert(0, "rownames", np.arange(1, len(frame) + 1))
    frame["notes"] = np.nan
    frame["tasted"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(len(frame)) % 90, unit="D")
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    found = draft(str(path), "cultivar")
    d = found.recipe["data"]
    assert found.recipe["task"] == {"kind": "classification"}
    assert d["kind"] == "csv" and d["categorical"] == ["region"] and d["dates"] == ["tasted"]
    assert set(d["drop"]) == {"rownames", "notes", "batch_zero"}
    assert any("'rownames'" in n and "identifier" in n for n in found.notes)
    assert any("'notes' is empty in every row" in n for n in found.notes)
    assert any(line.startswith("target 'cultivar': 3 classes") for line in found.summary)
    module = data.build(inferred(path, "cultivar"))
    assert "tasted.month#0" in (module.info.feature_names or [])  # a calendar feature, in quantile bins


def test_a_column_marking_train_val_test_fixes_the_splits_and_is_no_input(tmp_path: Path, wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    frame["part"] = (["Train", "train ", "val", "test"] * len(frame))[: len(frame)]  # as people write them
    frame["stage"] = (["train", "test"] * len(frame))[: len(frame)]  # no val: an ordinary category
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    found = draft(str(path), "cultivar")
    d = found.recipe["data"]
    assert d["split_column"] == "part" and "part" not in d["categorical"] and "stage" in d["categorical"]
    assert any(line.startswith("splits: as column 'part' marks them (train 90, val 44, test 44)") for line in
               found.summary)  # fmt: skip
    module = data.build(inferred(path, "cultivar"))
    assert module.info.split_sizes == {"train": 90, "val": 44, "test": 44}
    # named by an override, a column that is not auto-detected becomes the split column too
    frame["mine"] = frame.pop("part")
    frame.drop(columns=["stage"]).to_csv(path, index=False)
    assert draft(str(path), "cultivar", split="mine").recipe["data"]["split_column"] == "mine"


def test_a_skewed_positive_target_is_fitted_on_its_log(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    path = tmp_path / "cancer.csv"
    frame.to_csv(path, index=False)
    assert draft(str(path), "area error").recipe["task"] == {"kind": "regression", "target_transform": "log1p"}
    assert draft(str(path), "target").recipe["task"]["kind"] == "classification"  # 0/1 codes are classes
    assert draft(str(path), "mean texture").recipe["task"]["target_transform"] == "standard"


def test_series_text_and_images_are_recognised(
    tmp_path: Path, sunspots_path: Path, sms_path: Path, digits_folder: Path
) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "digits.npz", X=digits.images[:, None], y=digits.target)
    drafts = [
        draft(str(sunspots_path), "Sunspots", ["Month"]),
        draft(str(sms_path), "Label"),
        draft(str(digits_folder), None),
        draft(str(tmp_path / "digits.npz"), None),
    ]
    series, text, images, arrays = (d.recipe for d in drafts)
    assert arrays["data"]["kind"] == "arrays" and arrays["model"]["arch"] == "cnn"
    assert arrays["task"]["kind"] == "classification"
    assert series["data"]["kind"] == "timeseries" and series["task"]["kind"] == "forecasting"
    assert series["data"]["window"] == 24 and series["data"]["target_mode"] == "level"  # two monthly seasons
    assert text["data"]["kind"] == "text" and text["data"]["text_column"] == "SMS"
    assert 16 <= text["data"]["max_length"] <= 128
    assert images["data"]["kind"] == "images" and images["data"]["channels"] == 1
    assert images["model"]["arch"] == "cnn"
    for found in drafts:
        recipe = load_text(render(found, "data"), source="data")  # each one a valid recipe
        assert recipe.tune is not None and recipe.tune.trials == 20
    module = data.build(load_text(render(drafts[3], "data"), source="data"))
    assert module.info.input_shape == (1, 8, 8)


def test_year_and_month_columns_make_the_time_and_a_trend_is_forecast_as_changes(
    tmp_path: Path, sunspots_path: Path
) -> None:
    frame = pd.read_csv(sunspots_path)
    month = pd.to_datetime(frame["Month"])
    # the real cycle on a rising level: later periods lie above every level seen in training
    trending = pd.DataFrame(
        {"year": month.dt.year, "month": month.dt.month, "level": frame["Sunspots"] + 0.2 * np.arange(len(frame))}
    )
    path = tmp_path / "rising.csv"
    trending.to_csv(path, index=False)
    found = draft(str(path), "level", ["year", "month"])
    assert found.recipe["data"]["time_column"] == ["year", "month"]
    assert found.recipe["data"]["target_mode"] == "difference"
    recipe = inferred(path, "level", "year", "month")
    module = data.build(recipe)
    assert module.info.preprocessing["target_mode"] == "difference"
    assert module.info.preprocessing["periods"]["test"][1].startswith("1983-12-01")


def test_errors_name_the_option(tmp_path: Path, wine_csv: Path) -> None:
    with pytest.raises(DataError, match=r"--target: give the column to predict; wine\.csv has"):
        draft(str(wine_csv), None)
    with pytest.raises(DataError, match="--target: no column 'cultivr'; did you mean 'cultivar'"):
        draft(str(wine_csv), "cultivr")
    with pytest.raises(DataError, match="does not exist"):
        draft(str(tmp_path / "nope.csv"), "y")


def test_init_writes_a_commented_recipe_that_trains(workdir: Path, wine_csv: Path) -> None:
    done = cli("init", str(wine_csv), "--target", "cultivar", "-o", "wine.yaml", cwd=workdir)
    assert done.returncode == 0, done.stderr
    text = (workdir / "wine.yaml").read_text()
    assert "# " in text and "batch_zero" in text and "note: column 'batch_zero' holds one value" in text
    raw = parse(text)
    assert raw["data"]["path"] == "wine.csv"  # relative to the recipe's folder: the two travel together
    recipe = load(workdir / "wine.yaml")
    assert recipe.data.kind == "csv" and recipe.tune is not None
    again = cli("init", str(wine_csv), "--target", "cultivar", "-o", "wine.yaml", cwd=workdir)
    assert again.returncode == 2 and "exists; pass --force" in again.stderr
    printed = cli("init", str(wine_csv), "--target", "cultivar", cwd=workdir)
    assert printed.returncode == 0 and printed.stdout.startswith("# dlkit train")


def test_train_a_file_with_a_target(workdir: Path, wine_csv: Path) -> None:
    done = cli("train", str(wine_csv), "--target", "cultivar", "trainer.max_epochs=2", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "data: wine.csv: 178 rows, 16 columns" in done.stdout
    assert "note: column 'batch_zero' holds one value" in done.stdout
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "FINISHED" and run.data.params["data.kind"] == "csv"
    assert run.data.params["trainer.max_epochs"] == "2"
    refused = cli("train", "iris-mlp", "--target", "species", cwd=workdir)
    assert refused.returncode == 2 and "--target applies to a data file" in refused.stderr


def test_tune_a_file_with_a_target(workdir: Path, wine_csv: Path) -> None:
    done = cli("tune", str(wine_csv), "--target", "cultivar", "--trials", "2", "trainer.max_epochs=2", cwd=workdir)
    assert done.returncode == 0, done.stderr
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 3 and all(r.info.status == "FINISHED" for r in runs)  # the study and its two trials


def test_a_season_without_a_calendar_is_found_in_the_autocorrelation(tmp_path: Path, sunspots_path: Path) -> None:
    frame = pd.read_csv(sunspots_path)
    frame["Month"] = np.arange(len(frame))  # steps without dates: the 11-year cycle is still there
    path = tmp_path / "steps.csv"
    frame.to_csv(path, index=False)
    found = draft(str(path), "Sunspots", ["Month"])
    window = found.recipe["data"]["window"]
    assert 2 * 120 <= window <= 2 * 140  # two cycles of about 11 years of months
    assert "autocorrelation" in found.comments[("data", "window")]


def test_a_dropped_column_given_on_the_command_line_adds_to_what_dlkit_drops(tmp_path: Path, wine_csv: Path) -> None:
    from dlkit.cli.from_data import inferred as from_file

    frame = pd.read_csv(wine_csv)
    frame.insert(0, "rownames", np.arange(1, len(frame) + 1))
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    recipe = from_file(str(path), "cultivar", None, None, ["data.drop=[region]"], lambda _: None)
    assert "region" in recipe.data.drop and "rownames" in recipe.data.drop  # the user's column and dlkit's
    assert "region" not in (recipe.data.categorical or [])  # not typed as an input either
    names = data.build(recipe).info.feature_names or []
    assert not any(n.startswith(("region", "rownames")) for n in names)
