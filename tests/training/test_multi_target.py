"""Several targets at once (task multi): a class and a measurement of the iris table learned by one network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dlkit.errors import DataError, RecipeError
from dlkit.recipe import load, load_text
from dlkit.tuning.study import tune
from tests.conftest import train_in

RECIPE = """\
name: iris-two-targets
task:
  kind: multi
  targets:
    - {column: species, kind: classification}
    - {column: petal_width, kind: regression, weight: 0.5}
data: {kind: csv, path: iris.csv, batch_size: 16}
model: {arch: mlp, hidden: [32]}
optim: {lr: 0.01}
trainer: {max_epochs: 25}
"""


def _iris(folder: Path) -> pd.DataFrame:
    """scikit-learn's iris as a file: the species by name beside the four measurements."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = [["setosa", "versicolor", "virginica"][i] for i in frame.pop("target")]
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    frame.to_csv(folder / "iris.csv", index=False)
    return frame


@pytest.fixture
def iris_recipe(tmp_path: Path) -> Path:
    _iris(tmp_path)
    path = tmp_path / "multi.yaml"
    path.write_text(RECIPE)
    return path


def test_one_network_learns_a_class_and_a_measurement(iris_recipe: Path, tmp_path: Path) -> None:
    from dlkit.serving.evaluate import evaluate
    from dlkit.serving.export import export
    from dlkit.serving.predict import predict

    result = train_in(tmp_path, str(iris_recipe), [])
    metrics = result.test_metrics
    assert metrics["test/acc/species"] >= 0.9
    # petal width from the other three measurements: far better than its mean (r2 0)
    assert metrics["test/r2/petal_width"] >= 0.8
    # the loss is the weighted sum of the targets' losses
    weighted = metrics["test/loss/species"] + 0.5 * metrics["test/loss/petal_width"]
    assert metrics["test/loss"] == pytest.approx(weighted, rel=1e-4)

    client = MlflowClient(result.tracking_uri)
    run = client.get_run(result.run_id)
    for name in ("val/acc/species", "val/f1_macro/species", "val/rmse/petal_width", "val/loss/petal_width"):
        assert len(client.get_metric_history(result.run_id, name)) == 25, name
    assert run.data.metrics["test/ece/species"] >= 0
    artifacts = {a.path for folder in ("species", "petal_width") for a in client.list_artifacts(result.run_id, folder)}
    assert {"species/confusion_matrix.png", "species/reliability_diagram.png", "petal_width/residuals.png"} <= artifacts
    table = pd.read_csv(client.download_artifacts(result.run_id, "predictions.csv", str(tmp_path)))
    assert list(table.columns) == [
        "index",
        "true_species",
        "predicted_species",
        "true_petal_width",
        "predicted_petal_width",
    ]
    assert (table["true_species"] == table["predicted_species"]).mean() == pytest.approx(metrics["test/acc/species"])

    # predict takes the raw table; each target gets its own columns
    rows = pd.read_csv(tmp_path / "iris.csv").drop(columns=["species", "petal_width"]).iloc[[0, 60, 120]]
    rows.to_csv(tmp_path / "new.csv", index=False)
    assert predict(result.run_id, tmp_path / "new.csv", tmp_path / "out.csv", result.tracking_uri, say=print) == 3
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out["prediction_species"]) == ["setosa", "versicolor", "virginica"]
    assert np.allclose(out[[f"prob_species={c}" for c in ("setosa", "versicolor", "virginica")]].sum(axis=1), 1.0)
    assert np.all(np.abs(out["prediction_petal_width"].to_numpy() - np.array([0.2, 1.3, 2.3])) < 0.5)

    # evaluating the test split again gives the training run's test metrics
    again = evaluate(result.run_id, tracking_uri=result.tracking_uri, say=lambda _: None)
    for name in ("test/acc/species", "test/rmse/petal_width", "test/loss"):
        assert again.metrics[name] == pytest.approx(metrics[name], rel=1e-5, abs=1e-6)

    # the ONNX export gives both heads, probabilities and the measurement in centimetres
    exported = export(result.run_id, "onnx", tmp_path / "export", tracking_uri=result.tracking_uri, say=lambda _: None)
    assert exported.parity <= 1e-4
    card = json.loads((tmp_path / "export" / "preprocessing.json").read_text())
    assert card["outputs"]["outputs"]["columns"] == [
        "prob_species=setosa", "prob_species=versicolor", "prob_species=virginica", "prediction_petal_width",
    ]  # fmt: skip


def test_tuning_and_early_stopping_watch_one_target(iris_recipe: Path, tmp_path: Path) -> None:
    text = iris_recipe.read_text().replace("trainer: {max_epochs: 25}", "trainer: {max_epochs: 3}")
    text += (
        "tune:\n  space:\n    optim.lr: {type: categorical, choices: [0.01, 0.03]}\n  metric: val/rmse/petal_width\n"
    )
    recipe_path = tmp_path / "tune.yaml"
    recipe_path.write_text(text)
    recipe = load(str(recipe_path))
    assert recipe.tune is not None and recipe.tune.objectives == [("val/rmse/petal_width", "minimize")]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    study = tune(recipe, trials=2, storage=str(tmp_path / "study.journal"), tracking_uri=uri, say=lambda _: None).study
    client = MlflowClient(uri)
    children = client.search_runs(["1"], filter_string="tags.mlflow.parentRunId != ''")
    # each trial's value is its run's best epoch on the named target's metric
    best = {
        round(min(p.value for p in client.get_metric_history(c.info.run_id, "val/rmse/petal_width")), 5)
        for c in children
    }
    assert len(children) == 2 and {round(t.value, 5) for t in study.trials} == best

    stopping = load(str(iris_recipe), ["trainer.monitor=val/acc/species", "trainer.early_stopping.patience=2"])
    assert stopping.trainer.early_stopping is not None and stopping.trainer.resolved_monitor_mode() == "max"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("- {column: species, kind: classification}", "column 'petal_width' is listed twice"),
        ("- {column: species, kind: classification, loss: mae}", "loss applies to a regression target"),
        ("- {column: species, kind: classification}\n    - {column: x, kind: regression, label_smoothing: 0.1}",
         "label_smoothing applies to a classification target"),
        ("- {column: species, kind: classification}\n    - {column: x, kind: regression, calibrate: temperature}",
         "calibrate applies to a classification target"),
    ],
)  # fmt: skip
def test_target_lists_that_contradict_themselves_are_refused(change: str, message: str) -> None:
    text = RECIPE.replace("- {column: species, kind: classification}", change, 1)
    if "listed twice" in message:
        text = text.replace("{column: species, kind: classification}", "{column: petal_width, kind: regression}", 1)
    with pytest.raises(RecipeError, match=message):
        load_text(text)


def test_monitors_and_targets_are_checked_against_the_target_list(iris_recipe: Path, tmp_path: Path) -> None:
    with pytest.raises(
        RecipeError, match=r"trainer.monitor: 'val/acc/petal_width' is not logged by task multi; .*val/acc/species"
    ):
        load(str(iris_recipe), ["trainer.monitor=val/acc/petal_width"])
    with pytest.raises(RecipeError, match=r"data\.target: must stay unset with task multi: task\.targets names"):
        load(str(iris_recipe), ["data.target=species"])
    from dlkit import data

    recipe = load(str(iris_recipe), ["task.targets.1.column=petal_widht"])
    with pytest.raises(
        DataError, match=r"task.targets\[1\].column: no column 'petal_widht'; did you mean 'petal_width'"
    ):
        data.build(recipe)


def test_several_targets_are_inferred_from_a_comma_list(tmp_path: Path) -> None:
    from dlkit.data.infer import draft
    from dlkit.recipe.schema import Recipe

    _iris(tmp_path)
    found = draft(str(tmp_path / "iris.csv"), "species,petal_width")
    recipe = Recipe.model_validate(found.recipe)
    assert recipe.task.kind == "multi" and getattr(recipe.data, "target", None) is None
    assert [(t.column, t.kind) for t in recipe.task.targets] == [
        ("species", "classification"),
        ("petal_width", "regression"),
    ]
    assert any("target 'petal_width': numbers" in line for line in found.summary)
    with pytest.raises(DataError, match="--target: no column 'petal'"):
        draft(str(tmp_path / "iris.csv"), "species,petal")


def test_a_target_of_the_wrong_kind_is_named_with_the_fix(iris_recipe: Path) -> None:
    from dlkit import data

    with pytest.raises(DataError, match=r"task\.targets: species: column 'species' is not numeric") as info:
        data.build(load(str(iris_recipe), ["task.targets.0.kind=regression"]))
    assert info.value.hint == "set its kind: classification"


def test_summaries_list_each_targets_metrics_after_the_headline_measure() -> None:
    from dlkit.cli.summary import headline

    names = ["test/loss/b", "test/rmse/b", "test/acc/a", "test/loss", "test/f1/a/x", "model/params"]
    assert headline(names) == ["test/acc/a", "test/rmse/b", "test/loss", "test/loss/b"]


def test_a_classification_target_calibrates_its_own_temperature(iris_recipe: Path, tmp_path: Path) -> None:
    """An over-confident species head (large steps, many epochs): its temperature is fitted on the validation
    split, lowers the validation ECE, and changes the probabilities but no predicted class."""
    from mlflow import MlflowClient

    from dlkit.tasks.predictor import Predictor
    from dlkit.training import run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = ["optim.lr=0.05", "trainer.max_epochs=60", "trainer.early_stopping=null"]
    lines: list[str] = []
    calibrated = run(load(str(iris_recipe), [*common, "task.targets.0.calibrate=temperature"]), tracking_uri=uri,
                     say=lines.append, progress_bar=False)  # fmt: skip
    plain = run(load(str(iris_recipe), common), tracking_uri=uri, say=lambda _: None, progress_bar=False)
    (line,) = [text for text in lines if text.startswith("calibration of species")]
    before, after = (float(v) for v in line.rsplit("ECE ", 1)[1].rstrip(")").split(" -> "))
    assert after < before
    t = MlflowClient(uri).get_run(calibrated.run_id).data.metrics["model/temperature/species"]
    assert t != 1.0 and f"temperature {t:.3f}" in line
    rows = pd.read_csv(tmp_path / "iris.csv").drop(columns=["species", "petal_width"])
    from dlkit.data.raw_inputs import from_frame

    tables = []
    for result in (calibrated, plain):
        predictor = Predictor.load(result.run_id, uri, "RUN")
        tables.append(predictor.frame(from_frame(rows, predictor.recipe, predictor.info)))
    assert (tables[0]["prediction_species"] == tables[1]["prediction_species"]).all()
    assert not np.allclose(tables[0]["probability_species"], tables[1]["probability_species"])
    assert np.allclose(tables[0]["prediction_petal_width"], tables[1]["prediction_petal_width"], atol=1e-5)

    # a comparison of the two lists each target's test metrics (per-class values stay in their table)
    from dlkit.tracking.query import compare

    compared = compare(uri, [calibrated.run_id, plain.run_id])
    assert {"test/acc/species", "test/ece/species", "test/r2/petal_width", "test/loss"} <= set(compared.metrics)
