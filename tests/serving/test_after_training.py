"""After training: evaluate, predict, the MLflow pyfunc model and its server, runs ls, compare, ui.

Real runs on small data, a real MLflow store, real servers on loopback ports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dlkit.numbers import number
from dlkit.recipe import load, load_text
from dlkit.serving.evaluate import evaluate
from dlkit.training import run
from tests.conftest import SHARED_DATA, cli
from tests.postgres import free_port


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("after-training")


@pytest.fixture(scope="module")
def iris_run(store: Path) -> Any:
    """A trained iris classifier shared by the tests of this module."""
    uri = f"sqlite:///{store / 'mlflow.db'}"
    return run(load("iris-mlp", ["trainer.max_epochs=8"]), tracking_uri=uri, say=quiet, progress_bar=False)


@pytest.fixture(scope="module")
def iris_csv(store: Path) -> Path:
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = [bunch.target_names[i] for i in bunch.target]
    path = store / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def test_evaluate_reproduces_the_test_metrics_of_the_run(iris_run: Any) -> None:
    result = evaluate(iris_run.run_id, tracking_uri=iris_run.tracking_uri, say=quiet)
    assert result.metrics.keys() == iris_run.test_metrics.keys()
    for key, value in iris_run.test_metrics.items():
        assert result.metrics[key] == pytest.approx(value, abs=1e-6), key
    client = MlflowClient(iris_run.tracking_uri)
    logged = client.get_run(result.run_id)
    assert logged.data.tags["dlkit.evaluated_run"] == iris_run.run_id and logged.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {
        "confusion_matrix.png",
        "confusion_matrix.csv",
        "classification_report.json",
        "roc_pr_curves.png",
        "roc_pr_auc.csv",
    } <= artifacts


def test_evaluate_on_a_new_file_matches_scikit_learn(iris_run: Any, iris_csv: Path, store: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    result = evaluate(iris_run.run_id, data_path=iris_csv, tracking_uri=iris_run.tracking_uri, say=quiet)
    out = store / "pred.csv"
    done = cli("predict", iris_run.run_id, "--input", str(iris_csv), "--output", str(out), "--tracking-uri",
                   iris_run.tracking_uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(out)["prediction"]
    truth = pd.read_csv(iris_csv)["target"]
    assert result.metrics["test/acc"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-6)
    assert result.metrics["test/f1_macro"] == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-6)


def test_evaluate_refuses_a_file_without_labels(iris_run: Any, iris_csv: Path, store: Path) -> None:
    unlabelled = store / "unlabelled.csv"
    pd.read_csv(iris_csv).drop(columns=["target"]).to_csv(unlabelled, index=False)
    done = cli("evaluate", iris_run.run_id, "--data", str(unlabelled), "--tracking-uri", iris_run.tracking_uri,
                   cwd=store)  # fmt: skip
    assert done.returncode == 2 and "has no target column 'target'" in done.stderr and "Traceback" not in done.stderr


def test_pyfunc_model_predicts_what_dlkit_predict_does_and_serves(iris_run: Any, iris_csv: Path, store: Path) -> None:
    import mlflow

    rows = pd.read_csv(iris_csv).drop(columns=["target"])
    out = store / "pred-pyfunc.csv"
    done = cli("predict", iris_run.run_id, "-i", str(iris_csv), "-o", str(out), "--tracking-uri",
                   iris_run.tracking_uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(out)

    mlflow.set_tracking_uri(iris_run.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{iris_run.run_id}/model")
    finally:
        mlflow.set_tracking_uri(None)
    got = model.predict(rows)
    assert list(got.columns) == list(expected.columns)
    assert list(got["prediction"]) == list(expected["prediction"])
    np.testing.assert_allclose(got["probability"], expected["probability"], rtol=1e-5)
    assert model.metadata.signature is not None

    port = free_port()
    # the server runs `uvicorn` from PATH: the virtual environment's scripts must be on it
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": iris_run.tracking_uri, "PATH": path}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{iris_run.run_id}/model",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, cwd=store, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        body = json.dumps({"dataframe_split": rows.head(20).to_dict(orient="split")}).encode()
        answer = None
        deadline = time.time() + 120
        while answer is None and time.time() < deadline and server.poll() is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert answer is not None, "the model server never answered"
        served = pd.DataFrame(answer["predictions"])
        assert list(served["prediction"]) == list(expected["prediction"].head(20))
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_runs_ls_and_compare_agree_with_the_client(iris_run: Any, store: Path) -> None:
    uri = iris_run.tracking_uri
    other = run(load("iris-mlp", ["trainer.max_epochs=3", "optim.lr=0.02"]), tracking_uri=uri, say=quiet,
                progress_bar=False)  # fmt: skip
    listed = cli("runs", "ls", "--tracking-uri", uri, cwd=store)
    assert listed.returncode == 0, listed.stderr
    client = MlflowClient(uri)
    for run_id in (iris_run.run_id, other.run_id):
        line = next(line for line in listed.stdout.splitlines() if run_id in line)
        logged = client.get_run(run_id)
        assert logged.info.status in line and number(logged.data.metrics["test/loss"]) in line
    ids = cli("runs", "ls", "--ids", "--tracking-uri", uri, cwd=store).stdout.split()
    assert all(len(i) == 32 for i in ids) and ids.index(other.run_id) < ids.index(iris_run.run_id)  # newest first

    html, png = store / "compare.html", store / "compare.png"
    shown = cli("compare", iris_run.run_id, other.run_id, "--tracking-uri", uri, "--output", str(html), cwd=store)
    assert shown.returncode == 0, shown.stderr
    lr_line = next(line for line in shown.stdout.splitlines() if "optim.lr" in line)
    assert client.get_run(iris_run.run_id).data.params["optim.lr"] in lr_line and "0.02" in lr_line
    acc_line = next(line for line in shown.stdout.splitlines() if line.strip("│ ").startswith("test/acc "))
    for run_id in (iris_run.run_id, other.run_id):
        assert number(client.get_run(run_id).data.metrics["test/acc"]) in acc_line
    assert "optim.lr" in html.read_text()
    charted = cli("compare", iris_run.run_id, other.run_id, "--metric", "test/acc", "-o", str(png),
                      "--tracking-uri", uri, cwd=store)  # fmt: skip
    assert charted.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_ui_lists_the_runs_and_stops_its_whole_process_tree(iris_run: Any, store: Path, host: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # as from a terminal: a test run started in the background (CI) inherits an ignored Ctrl-C, which Python keeps
    ui = subprocess.Popen(
        [sys.executable, "-m", "dlkit", "ui", "--port", str(port), "--host", host, "--tracking-uri", iris_run.tracking_uri],
        cwd=store, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert ui.stdout is not None
        first = ui.stdout.readline()
        if host == "0.0.0.0":  # every interface: said, and the address others use is printed beside loopback
            assert first.startswith("warning: --host 0.0.0.0 listens on every network interface"), first
            first = ui.stdout.readline()
            assert first.count("http://") >= 1 and "0.0.0.0" not in first, first
        assert f"http://127.0.0.1:{port}" in first, first
        experiment = MlflowClient(iris_run.tracking_uri).get_run(iris_run.run_id).info.experiment_id
        page = ui.stdout.readline()  # the latest run's experiment, in the UI's model-training mode
        assert f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs?workflowType=machine_learning" in page, page
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
            json.dumps({"experiment_ids": [experiment], "max_results": 100}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            ids = {r["info"]["run_id"] for r in json.loads(response.read())["runs"]}
        assert iris_run.run_id in ids
        server = _processes_on(port) - {str(ui.pid)}
        assert server  # the server and its workers
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            rest, _ = ui.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
            rest, _ = ui.communicate(timeout=30)
            raise AssertionError(f"dlkit ui did not stop within 30 s of Ctrl-C; it printed: {rest}") from None
    assert ui.returncode == 0 and "MLflow UI stopped" in rest, rest
    time.sleep(0.5)
    left = _processes_on(port)
    assert not left, f"processes left behind: {left}"


def _processes_on(port: int) -> set[str]:
    return set(
        subprocess.run(["pgrep", "-f", f"port {port}"], capture_output=True, text=True, timeout=30).stdout.split()
    )


def test_train_register_puts_the_model_in_the_registry(store: Path) -> None:
    uri = f"sqlite:///{store / 'registry.db'}"
    done = cli("train", "iris-mlp", "trainer.max_epochs=2", "--register", "iris-classifier", "--tracking-uri",
                   uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    versions = MlflowClient(uri).search_model_versions("name='iris-classifier'")
    assert len(versions) == 1 and versions[0].run_id in done.stdout


KINDS = {
    "text": (
        "sms-spam-gru",
        ["model.hidden_size=16", "trainer.max_epochs=1", f"data.path={SHARED_DATA / 'sms-spam.tsv'}"],
        ["row", "prediction", "probability", "prob_ham", "prob_spam"],
    ),
    "timeseries": (
        "sunspots-gru",
        ["trainer.max_epochs=1", f"data.path={SHARED_DATA / 'monthly-sunspots.csv'}"],
        ["last_input_time", "Sunspots_t+1"],
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_predict_on_text_and_series_files(kind: str, store: Path) -> None:
    name, overrides, columns = KINDS[kind]
    recipe = load(name, overrides)
    uri = f"sqlite:///{store / 'kinds.db'}"
    trained = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    source = Path(recipe.data.path)
    sample = store / f"new-{kind}{source.suffix}"
    lines = source.read_text(encoding="utf-8").splitlines()
    sample.write_text("\n".join(lines[:61]) + "\n", encoding="utf-8")  # header and 60 rows
    out = store / f"pred-{kind}.csv"
    done = cli("predict", trained.run_id, "-i", str(sample), "-o", str(out), "--tracking-uri", uri, cwd=store)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == columns
    window = recipe.data.window if kind == "timeseries" else 0
    assert len(table) == 60 - max(0, window - 1)
    assert table.notna().all().all()


def test_predict_on_image_folders_and_arrays(store: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = store / "digit-images"
    for label in (0, 1):
        (folder / str(label)).mkdir(parents=True)
        for i in np.flatnonzero(digits.target == label)[:30]:
            Image.fromarray((digits.images[i] * 16).astype(np.uint8)).save(folder / str(label) / f"{i}.png")
    uri = f"sqlite:///{store / 'images.db'}"
    recipe = load_text(
        f"""
name: images
task: classification
data: {{kind: images, path: {folder}, image_size: [8, 8], channels: 1, batch_size: 8}}
model: {{arch: cnn, channels: [4]}}
trainer: {{max_epochs: 2}}
"""
    )
    trained = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    out = store / "pred-images.csv"
    done = cli("predict", trained.run_id, "-i", str(folder / "1"), "-o", str(out), "--tracking-uri", uri,
                   cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["path", "prediction", "probability", "prob_0", "prob_1"] and len(table) == 30

    arrays = store / "xy.npz"
    np.savez(arrays, X=digits.data[:200].astype(np.float32), y=digits.target[:200])
    recipe = load_text(
        f"""
name: arrays
task: classification
data: {{kind: arrays, path: {arrays}, batch_size: 16}}
model: {{arch: mlp, hidden: [16]}}
trainer: {{max_epochs: 2}}
"""
    )
    trained = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    np.save(store / "new.npy", digits.data[200:230].astype(np.float32))
    out = store / "pred-arrays.csv"
    done = cli("predict", trained.run_id, "-i", str(store / "new.npy"), "-o", str(out), "--tracking-uri", uri,
                   cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == 30


ENCODINGS = {
    "onehot": ["data.categorical_encoding=onehot"],
    "embedding": ["data.categorical_encoding=embedding"],
    "quantile": ["data.scale=quantile"],
    "piecewise": ["data.numeric_encoding=piecewise", "data.categorical=auto"],
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_csv_tables_with_categories_and_gaps_predict_through_the_saved_preprocessing(
    encoding: str, store: Path
) -> None:
    """Predictions on the training file itself equal the test-split predictions the run logged."""
    rng = np.random.default_rng(1)
    n = 300
    colour = rng.choice(["red", "green", "blue"], size=n)
    size = rng.normal(10, 3, size=n)
    frame = pd.DataFrame({"colour": colour, "size": size, "weight": rng.normal(size=n)})
    frame["label"] = np.where((colour == "red") | (size > 12), "yes", "no")
    frame.loc[::17, "size"] = np.nan  # gaps, filled with the training median
    path = store / f"table-{encoding}.csv"
    frame.to_csv(path, index=False)
    uri = f"sqlite:///{store / 'csv.db'}"
    recipe = load(
        "csv-mlp",
        [f"data.path={path}", "data.categorical=[colour]", *ENCODINGS[encoding], "trainer.max_epochs=4"],
    )  # fmt: skip
    trained = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    out = store / f"pred-{encoding}.csv"
    unlabelled = store / f"unlabelled-{encoding}.csv"
    frame.drop(columns=["label"]).to_csv(unlabelled, index=False)
    done = cli("predict", trained.run_id, "-i", str(unlabelled), "-o", str(out), "--tracking-uri", uri, cwd=store)
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(out)
    client = MlflowClient(uri)
    logged = pd.read_csv(client.download_artifacts(trained.run_id, "predictions.csv", str(store / encoding)))
    rows = predicted.iloc[logged["index"].to_numpy()]
    assert list(rows["prediction"]) == list(logged["predicted"])
    np.testing.assert_allclose(rows["prob_yes"].to_numpy(), logged["prob_yes"].to_numpy(), rtol=1e-5, atol=1e-7)
    blank = store / f"blank-{encoding}.csv"  # the target column is there, to be filled in
    frame.assign(label=np.nan).to_csv(blank, index=False)
    again = store / f"pred-blank-{encoding}.csv"
    done = cli("predict", trained.run_id, "-i", str(blank), "-o", str(again), "--tracking-uri", uri, cwd=store)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(again)["prediction"]) == list(predicted["prediction"])


def test_evaluate_a_regression_run_reproduces_its_metrics_and_plots_residuals(store: Path) -> None:
    uri = f"sqlite:///{store / 'regression.db'}"
    trained = run(load("diabetes-mlp", ["trainer.max_epochs=3"]), tracking_uri=uri, say=quiet, progress_bar=False)
    result = evaluate(trained.run_id, tracking_uri=uri, say=quiet)
    for key, value in trained.test_metrics.items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert "residuals.png" in {a.path for a in MlflowClient(uri).list_artifacts(result.run_id)}
