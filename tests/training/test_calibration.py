"""Temperature scaling (task.calibrate: temperature): fitted on the validation split after training,
written into the best checkpoint, and used by the test metrics, predict and the MLflow model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from dlkit.tasks import temperature
from tests.conftest import cli


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_fit_recovers_the_temperature_of_logits_scaled_away_from_calibration(scale: float) -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 4, generator=generator) * 1.5
    target = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)  # calibrated labels
    assert temperature.fit(logits * scale, target) == pytest.approx(scale, rel=0.1)


def test_fit_stays_within_its_bounds_and_leaves_an_empty_split_alone() -> None:
    target = torch.tensor([0, 1, 0, 1])
    wrong = torch.tensor([[0.0, 50.0], [50.0, 0.0], [0.0, 50.0], [50.0, 0.0]])  # confidently wrong every time
    assert temperature.fit(wrong, target) == temperature.HIGHEST
    assert temperature.fit(torch.empty(0, 3), torch.empty(0, dtype=torch.long)) == 1.0


def _memorising_table(path: Path) -> Path:
    """Noisy labels; the training split is 300 rows repeated ten times, so an MLP memorises them within a
    few epochs and is over-confident on the validation and test rows (marked by the split column)."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=1300, n_features=10, n_informative=6, n_classes=3, flip_y=0.2,
                               random_state=0)  # fmt: skip
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    frame["y"] = [f"c{v}" for v in y]
    frame["split"] = ["train"] * 300 + ["val"] * 500 + ["test"] * 500
    pd.concat([frame.iloc[:300]] * 10 + [frame.iloc[300:]]).to_csv(path, index=False)
    return path


def test_calibrated_run_lowers_the_ece_of_an_over_confident_model_everywhere_it_predicts(workdir: Path) -> None:
    import mlflow

    data = _memorising_table(workdir / "memo.csv")
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    common = ["--target", "y", "trainer.max_epochs=5", "trainer.early_stopping=null", "optim.lr=0.003",
              "model.dropout=0", "model.hidden=[256,256]", "optim.weight_decay=0", "trainer.monitor=val/acc",
              "--tracking-uri", uri]  # fmt: skip
    plain = cli("train", str(data), *common, cwd=workdir)
    assert plain.returncode == 0, plain.stderr
    assert "split_column" not in plain.stderr and "splits: as column 'split' marks them" in plain.stdout
    calibrated = cli("train", str(data), *common, "task.calibrate=temperature", cwd=workdir)
    assert calibrated.returncode == 0, calibrated.stderr
    assert "calibration: temperature" in calibrated.stdout and "fitted on the validation split" in calibrated.stdout

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("dlkit-tables").experiment_id],
                              order_by=["attributes.start_time ASC"])  # fmt: skip
    before, after = (r.data.metrics for r in runs)
    t = after["model/temperature"]
    assert t > 1.5 and "model/temperature" not in before  # over-confident: the logits get softer
    assert after["test/acc"] == pytest.approx(before["test/acc"])  # the same weights, the same predictions
    assert after["test/ece"] < 0.5 * before["test/ece"]
    assert after["test/loss"] < before["test/loss"]

    plain_id, calibrated_id = (r.info.run_id for r in runs)
    state = torch.load(Path(runs[1].info.artifact_uri.removeprefix("file://")) / "checkpoints" / "best.ckpt",
                       weights_only=True, map_location="cpu")["state_dict"]  # fmt: skip
    assert float(state["temperature"]) == pytest.approx(t)
    old = torch.load(Path(runs[0].info.artifact_uri.removeprefix("file://")) / "checkpoints" / "best.ckpt",
                     weights_only=True, map_location="cpu")["state_dict"]  # fmt: skip
    assert "temperature" not in old  # runs that do not calibrate keep the checkpoints they always had

    rows = pd.read_csv(data).query("split == 'test'")
    rows.to_csv(workdir / "new.csv", index=False)
    probs = {}
    for name, run_id in (("plain", plain_id), ("calibrated", calibrated_id)):
        out = workdir / f"{name}.csv"
        done = cli("predict", run_id, "-i", str(workdir / "new.csv"), "-o", str(out), "--tracking-uri", uri,
                       cwd=workdir)  # fmt: skip
        assert done.returncode == 0, done.stderr
        probs[name] = pd.read_csv(out)[["prob_c0", "prob_c1", "prob_c2"]].to_numpy()
    # softmax(z / T): the calibrated log-probabilities are the plain ones divided by T, up to a constant per row
    log_plain, log_calibrated = np.log(probs["plain"]), np.log(probs["calibrated"])
    np.testing.assert_allclose(log_calibrated - log_calibrated.mean(axis=1, keepdims=True),
                               (log_plain - log_plain.mean(axis=1, keepdims=True)) / t, atol=2e-3)  # fmt: skip

    # the exported graph gives the calibrated probabilities too; logged beside it, the run's own model
    # stays the one runs:/RUN/model serves (below)
    onnxruntime = pytest.importorskip("onnxruntime")
    done = cli("export", calibrated_id, "-o", str(workdir / "onnx"), "--tracking-uri", uri, cwd=workdir)
    assert done.returncode == 0, done.stderr
    numbers = rows[[f"f{i}" for i in range(10)]].to_numpy(np.float64)
    (exported,) = onnxruntime.InferenceSession(str(workdir / "onnx" / "model.onnx")).run(
        ["outputs"], {"numbers": numbers}
    )
    np.testing.assert_allclose(exported, probs["calibrated"], atol=1e-5)

    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{calibrated_id}/model")
    finally:
        mlflow.set_tracking_uri(None)
    served = model.predict(rows.drop(columns=["y", "split"]))
    np.testing.assert_allclose(served[["prob_c0", "prob_c1", "prob_c2"]].to_numpy(), probs["calibrated"], rtol=1e-4)
