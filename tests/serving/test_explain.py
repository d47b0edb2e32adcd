"""`dlkit explain`: captum attributions on real trained runs, shaped like the inputs and pointing at the signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from dlkit.recipe import load, load_text
from dlkit.serving.explain import explain
from dlkit.training import run
from tests.conftest import SHARED_DATA, cli


def quiet(_: str) -> None:
    pass


def test_the_informative_feature_ranks_first(workdir: Path, tracking_uri: str) -> None:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({f"noise_{i}": rng.normal(size=n) for i in range(4)})
    frame.insert(2, "signal", rng.normal(size=n))
    frame["label"] = np.where(frame["signal"] > 0, "up", "down")
    path = workdir / "signal.csv"
    frame.to_csv(path, index=False)
    recipe = load_text(
        f"""
name: signal
task: classification
data: {{kind: csv, path: {path}, target: label, batch_size: 32}}
model: {{arch: mlp, hidden: [16]}}
optim: {{lr: 0.01}}
trainer: {{max_epochs: 15}}
"""
    )
    trained = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert trained.test_metrics["test/acc"] > 0.9
    for method in ("integrated_gradients", "saliency", "deeplift"):
        result = explain(trained.run_id, path, method=method, limit=100, tracking_uri=tracking_uri, say=quiet)
        assert result.attributions.shape == (100, 5)
        ranking = pd.read_csv(result.files[1])
        assert ranking["feature"].iloc[0] == "signal", (method, ranking)
    logged = {a.path for a in MlflowClient(tracking_uri).list_artifacts(trained.run_id, "explain/saliency")}
    assert logged == {"explain/saliency/saliency.csv", "explain/saliency/saliency.png"}


def test_images_and_texts_get_attributions_shaped_like_their_inputs(workdir: Path, tracking_uri: str) -> None:
    digits = run(load("digits-cnn", ["trainer.max_epochs=1"]), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    from sklearn.datasets import load_digits

    bunch = load_digits(as_frame=True)
    rows = workdir / "digits.csv"
    bunch.frame.head(12).to_csv(rows, index=False)
    result = explain(digits.run_id, rows, tracking_uri=tracking_uri, output=workdir / "img", say=quiet)
    assert result.attributions.shape == (12, 1, 8, 8)
    assert result.files[0].read_bytes()[:4] == b"\x89PNG"

    sms = SHARED_DATA / "sms-spam.tsv"
    text = run(
        load("sms-spam-gru", ["trainer.max_epochs=1", "model.hidden_size=16", f"data.path={sms}"]),
        tracking_uri=tracking_uri,
        say=quiet,
        progress_bar=False,
    )
    sample = workdir / "sms.tsv"
    sample.write_text("\n".join(sms.read_text(encoding="utf-8").splitlines()[:9]) + "\n", encoding="utf-8")
    result = explain(text.run_id, sample, tracking_uri=tracking_uri, output=workdir / "txt", say=quiet)
    assert result.attributions.shape == (8, text_length(text))
    page = result.files[0].read_text(encoding="utf-8")
    assert page.count("<tr>") == 9 and "<span" in page


def text_length(result: object) -> int:
    from dlkit.tasks.predictor import Predictor

    return int(Predictor.load(result.run_id, result.tracking_uri).info.input_shape[0])  # type: ignore[attr-defined]


def test_explain_refuses_unknown_methods_and_classes(workdir: Path, tracking_uri: str) -> None:
    trained = run(load("iris-mlp", ["trainer.max_epochs=1"]), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    from sklearn.datasets import load_iris

    path = workdir / "iris.csv"
    load_iris(as_frame=True).frame.drop(columns=["target"]).to_csv(path, index=False)
    for extra, message in (
        (["--method", "lime"], "--method lime: choose one of"),
        (["--target", "rose"], "--target 'rose'"),
    ):
        done = cli("explain", trained.run_id, "-i", str(path), "--tracking-uri", tracking_uri, *extra, cwd=workdir)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
