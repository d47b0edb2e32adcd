"""Transfer learning between runs, autoencoders and anomaly scores, GANs and class fidelity, safe checkpoints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from dlkit import data, models
from dlkit.errors import BadInput
from dlkit.models.checkpoints import backbone_state, load_trained, read_checkpoint
from dlkit.recipe import load
from dlkit.training import run
from dlkit.training.transfer import init_from

SMALL_AE = ["model.hidden=[32]", "model.latent=8"]


def quiet(_: str) -> None:
    pass


@pytest.fixture
def autoencoder_run(workdir: Path, tracking_uri: str) -> str:
    result = run(
        load("digits-autoencoder", [*SMALL_AE, "trainer.max_epochs=2"]),
        tracking_uri=tracking_uri,
        say=quiet,
        progress_bar=False,
    )
    assert result.run_id is not None
    return result.run_id


def classifier(*extra: str) -> object:
    return load("digits-finetune-from-autoencoder", [*SMALL_AE, "trainer.max_epochs=2", *extra])


def test_init_from_copies_the_encoder_and_reports_it(autoencoder_run: str, tracking_uri: str) -> None:
    recipe = classifier()
    backbone = models.build(recipe.model, data.build(recipe).info)
    report = init_from(backbone, autoencoder_run, tracking_uri)
    assert report.startswith(
        f"model.init_from: loaded 4 of 6 tensors (encoder) from {autoencoder_run}; initialised fresh: head"
    )
    source = load_trained(autoencoder_run, tracking_uri).backbone.state_dict()
    for key, value in backbone.state_dict().items():
        if key.startswith("encoder."):
            torch.testing.assert_close(value, source[key])


def test_frozen_modules_stay_fixed_until_unfrozen(autoencoder_run: str, tracking_uri: str) -> None:
    source = load_trained(autoencoder_run, tracking_uri).backbone.state_dict()

    def encoder_after(*extra: str) -> dict[str, torch.Tensor]:
        result = run(
            classifier(f"model.init_from={autoencoder_run}", *extra),
            tracking_uri=tracking_uri,
            say=quiet,
            progress_bar=False,
        )
        client = MlflowClient(tracking_uri)
        assert client.get_run(result.run_id).data.tags["dlkit.init_from"] == autoencoder_run
        state = backbone_state(read_checkpoint(Path(result.best_checkpoint or ""), "test"))
        return {k: v for k, v in state.items() if k.startswith("encoder.")}

    frozen = encoder_after("trainer.unfreeze_at_epoch=null", "trainer.monitor=val/loss")
    assert all(torch.equal(v, source[k]) for k, v in frozen.items())
    unfrozen = encoder_after("trainer.unfreeze_at_epoch=1", "trainer.monitor=val/loss")
    assert not all(torch.equal(v, source[k]) for k, v in unfrozen.items())


def test_transfer_refuses_mismatches_clearly(autoencoder_run: str, tracking_uri: str) -> None:
    recipe = classifier("model.latent=9")
    backbone = models.build(recipe.model, data.build(recipe).info)
    with pytest.raises(
        BadInput,
        match=r"tensor\(s\) differ in shape, first encoder.1.2.weight: \(8, 32\) in the checkpoint, \(9, 32\) here",
    ):
        init_from(backbone, autoencoder_run, tracking_uri)
    cnn = load("digits-cnn")
    with pytest.raises(BadInput, match=r"no tensor of .* matches this model by name"):
        init_from(models.build(cnn.model, data.build(cnn).info), autoencoder_run, tracking_uri)
    with pytest.raises(BadInput, match=r"neither an existing checkpoint file nor an MLflow run id"):
        init_from(backbone, "no-such-run", tracking_uri)
    with pytest.raises(BadInput, match=r"run 0123456789abcdef0123456789abcdef not found"):
        init_from(backbone, "0123456789abcdef0123456789abcdef", tracking_uri)


def test_freezing_an_unknown_module_names_the_real_ones(workdir: Path, tracking_uri: str) -> None:
    with pytest.raises(BadInput, match=r"model.freeze: no module 'encodr'; this model has encoder, head"):
        run(classifier("model.freeze=[encodr]"), tracking_uri=tracking_uri, say=quiet, progress_bar=False)


def test_a_checkpoint_with_a_code_payload_is_refused_and_never_runs(workdir: Path, tracking_uri: str) -> None:
    marker = workdir / "payload-ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, (f"touch {marker}",))

    path = workdir / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, path)
    with pytest.raises(BadInput, match=r"is not a safe checkpoint"):
        run(classifier(f"model.init_from={path}"), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert not marker.exists()


def test_checkpoints_describe_themselves(autoencoder_run: str, tracking_uri: str) -> None:
    trained = load_trained(autoencoder_run, tracking_uri)
    assert trained.run_id == autoencoder_run
    assert trained.recipe.name == "digits-autoencoder" and trained.info.input_shape == (1, 8, 8)
    meta = read_checkpoint(trained.path, "test")["dlkit"]
    assert len(meta["recipe_sha256"]) == 64


def test_reconstruction_scores_anomalies(workdir: Path, tracking_uri: str) -> None:
    recipe = load("digits-autoencoder", [*SMALL_AE, "trainer.max_epochs=3", "task.anomaly_classes=['0']"])
    dm = data.build(recipe)
    for split in ("train", "val"):
        assert 0 not in dm.splits[split][1].tolist()  # normal-only training
    assert 0 in dm.splits["test"][1].tolist()
    result = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    metrics = result.test_metrics
    for name in (
        "test/mse",
        "test/anomaly_threshold",
        "test/anomaly_precision",
        "test/anomaly_recall",
        "test/anomaly_auroc",
    ):
        assert name in metrics
    client = MlflowClient(tracking_uri)
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"reconstructions.png", "anomaly_scores.png", "predictions.csv"} <= names
    preds = pd.read_csv(client.download_artifacts(result.run_id, "predictions.csv", str(workdir)))
    assert (preds["anomaly"] == (preds["score"] > metrics["test/anomaly_threshold"])).all()
    truth, flagged = preds["label"].astype(str) == "0", preds["anomaly"]
    assert (truth == preds["is_anomaly_class"]).all() and truth.any()
    recall = (truth & flagged).sum() / truth.sum()
    assert metrics["test/anomaly_recall"] == pytest.approx(recall, abs=1e-6)
    with pytest.raises(Exception, match=r"task.anomaly_classes: no class 'ten'"):
        data.build(load("digits-autoencoder", ["task.anomaly_classes=[ten]"]))


def test_gan_trains_logs_samples_and_measures_class_fidelity(workdir: Path, tracking_uri: str) -> None:
    judge = run(load("digits-cnn", ["trainer.max_epochs=2"]), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    recipe = load(
        "digits-gan",
        [
            f"task.judge={judge.best_checkpoint}",
            "trainer.max_epochs=2",
            "task.sample_every=1",
            "task.samples_per_class=10",
        ],
    )
    result = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert 0.0 <= result.test_metrics["test/class_fidelity"] <= 1.0
    client = MlflowClient(tracking_uri)
    samples = {a.path for a in client.list_artifacts(result.run_id, "samples")}
    assert samples == {"samples/epoch_0001.png", "samples/epoch_0002.png"}
    for name in ("train/loss_g", "train/loss_d", "val/class_fidelity"):
        assert len(client.get_metric_history(result.run_id, name)) == 2
    fidelity = pd.read_csv(client.download_artifacts(result.run_id, "class_fidelity.csv", str(workdir)))
    assert fidelity["class_fidelity"].mean() == pytest.approx(result.test_metrics["test/class_fidelity"], abs=1e-6)


def test_gan_judge_must_be_a_matching_classifier(workdir: Path, tracking_uri: str) -> None:
    wine = run(load("wine-mlp", ["trainer.max_epochs=1"]), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    with pytest.raises(BadInput, match=r"task.judge: .* reads inputs of shape"):
        run(
            load("digits-gan", [f"task.judge={wine.run_id}", "trainer.max_epochs=1"]),
            tracking_uri=tracking_uri,
            say=quiet,
            progress_bar=False,
        )
    with pytest.raises(BadInput, match=r"trainer.monitor val/class_fidelity needs task.judge"):
        run(
            load("digits-gan", ["trainer.monitor=val/class_fidelity"]),
            tracking_uri=tracking_uri,
            say=quiet,
            progress_bar=False,
        )
