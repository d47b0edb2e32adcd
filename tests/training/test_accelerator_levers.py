"""The speed levers meant for GPUs (bf16-mixed, channels-last, data kept on the device, torch.compile), run
on the CPU: each trains, leaves a float32 checkpoint under the model's own parameter names, and scores
the same when `dlkit evaluate` loads it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from mlflow import MlflowClient

from dlkit.recipe import load
from dlkit.serving.evaluate import evaluate
from dlkit.training import run


def quiet(_: str) -> None:
    pass


def weights(checkpoint: str | None) -> dict[str, torch.Tensor]:
    assert checkpoint is not None
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]


def fit(tracking_uri: str, *overrides: str) -> Any:
    recipe = load("digits-cnn", ["trainer.early_stopping=null", "trainer.num_threads=2", *overrides])
    return run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)


def test_bf16_mixed_channels_last_and_on_device_data_train_and_evaluate(workdir: Path, tracking_uri: str) -> None:
    plain = fit(tracking_uri, "trainer.max_epochs=1")
    levers = fit(tracking_uri, "trainer.max_epochs=3", "trainer.precision=bf16-mixed", "trainer.channels_last=true",
                 "data.on_device=true")  # fmt: skip
    assert levers.recipe.trainer.precision == "bf16-mixed" and levers.recipe.trainer.channels_last
    assert levers.test_metrics["test/acc"] > 0.9
    assert [row["epoch"] for row in levers.history] == [0, 1, 2]
    assert all(row["train/loss"] == row["train/loss"] for row in levers.history)  # no NaN under bf16 autocast

    state, reference = weights(levers.best_checkpoint), weights(plain.best_checkpoint)
    assert state.keys() == reference.keys()
    # mixed precision computes in bf16 and keeps the weights in float32
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}

    again = evaluate(levers.run_id, tracking_uri=tracking_uri, say=quiet)
    assert again.metrics["test/acc"] == pytest.approx(levers.test_metrics["test/acc"], abs=0.01)


@pytest.mark.parametrize(("precision", "dtype"), [("bf16-true", torch.bfloat16), ("64-true", torch.float64)])
def test_true_precisions_train_time_and_evaluate(
    workdir: Path, tracking_uri: str, precision: str, dtype: torch.dtype
) -> None:
    """A model held in bf16 or float64 throughout: the latency pass after the test gets its inputs in that
    precision too (it used to feed float32 and fail the finished run), and evaluate loads the weights back."""
    recipe = load("iris-mlp", ["trainer.max_epochs=3", f"trainer.precision={precision}"])
    result = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert MlflowClient(tracking_uri).get_run(result.run_id).info.status == "FINISHED"
    assert result.model_metrics["model/latency_ms"] > 0
    assert {v.dtype for v in weights(result.best_checkpoint).values() if v.is_floating_point()} == {dtype}
    again = evaluate(result.run_id, tracking_uri=tracking_uri, say=quiet)
    assert again.metrics["test/acc"] == pytest.approx(result.test_metrics["test/acc"], abs=0.05)


REPORTS = {
    "diabetes-mlp": {"predictions.csv", "residuals.png", "learning_curves.png"},
    "digits-autoencoder": {"predictions.csv", "anomaly_scores.png", "reconstructions.png"},
    "digits-gan": {"samples.png", "learning_curves.png"},
}


@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true"])
@pytest.mark.parametrize("name", ["diabetes-mlp", "digits-autoencoder", "digits-gan"])
def test_regression_reconstruction_and_generation_in_bf16(
    workdir: Path, tracking_uri: str, name: str, precision: str
) -> None:
    """Every task's own passes outside Lightning's steps (validation anomaly scores, GAN noise, the reports'
    tensors handed to numpy) follow the trainer's precision: the run finishes with its reports."""
    recipe = load(name, ["trainer.max_epochs=1", f"trainer.precision={precision}"])
    result = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    client = MlflowClient(tracking_uri)
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert result.test_metrics and all(v == v for v in result.test_metrics.values())
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert REPORTS[name] <= artifacts, artifacts


@pytest.mark.slow
def test_a_compiled_model_keeps_its_parameter_names(workdir: Path, tracking_uri: str) -> None:
    """torch.compile in place: the checkpoint has no `_orig_mod.` prefix, so it evaluates and transfers like any."""
    from torch._dynamo.utils import counters

    plain = fit(tracking_uri, "trainer.max_epochs=1")
    counters.clear()
    compiled = fit(tracking_uri, "trainer.max_epochs=2", "trainer.compile=true")
    assert counters["stats"]["unique_graphs"] > 0  # the model really went through torch.compile
    assert compiled.test_metrics["test/acc"] > 0.85
    assert weights(compiled.best_checkpoint).keys() == weights(plain.best_checkpoint).keys()
    again = evaluate(compiled.run_id, tracking_uri=tracking_uri, say=quiet)
    assert again.metrics["test/acc"] == pytest.approx(compiled.test_metrics["test/acc"], abs=1e-6)
    # the compiled run's weights initialise a new, uncompiled model
    transfer = fit(tracking_uri, "trainer.max_epochs=1", f"model.init_from={compiled.run_id}")
    assert transfer.test_metrics["test/acc"] > 0.85
