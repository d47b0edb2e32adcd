"""`dlkit train` end to end on real data and a real MLflow store, read back with MlflowClient."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from dlkit.errors import Interrupted, TrainingFailed
from dlkit.recipe import load
from dlkit.training import run
from tests.conftest import cli

ARTIFACTS = {
    "recipe.yaml",
    "predictions.csv",
    "confusion_matrix.png",
    "confusion_matrix.csv",
    "classification_report.json",
    "learning_curves.png",
    "checkpoints/best.ckpt",
    "checkpoints/last.ckpt",
}


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def only_run(uri: str) -> object:
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    return runs[0]


def test_train_cli_records_the_full_run(workdir: Path) -> None:
    done = cli("train", "digits-mlp", "trainer.max_epochs=3", "model.hidden=[64]", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "test/acc" in done.stdout and "dlkit ui --tracking-uri sqlite:///mlflow.db" in done.stdout
    assert "Tip" not in done.stdout + done.stderr and "GPU available" not in done.stdout + done.stderr

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(uri)
    r = only_run(uri)
    assert r.info.status == "FINISHED"
    assert r.info.run_name == "digits-mlp max_epochs=3 hidden=[64]"  # what differs from the recipe
    assert client.get_experiment(r.info.experiment_id).name == "dlkit-digits"
    assert r.data.params["model.hidden"] == "[64]"
    assert r.data.params["optim.lr"] == "0.001"
    assert r.data.params["trainer.max_epochs"] == "3"
    assert r.data.tags["dlkit.recipe"] == "digits-mlp" and r.data.tags["dlkit.arch"] == "mlp"
    assert r.data.tags["dlkit.task"] == "classification" and r.data.tags["dlkit.version"]
    assert r.data.tags["dlkit.device"] == "cpu"

    for name in ("train/loss", "val/loss", "val/acc", "val/f1_macro", "train/lr"):
        history = client.get_metric_history(r.info.run_id, name)
        assert sorted(m.step for m in history) == [1, 2, 3], name  # epochs count from 1
    for name in (
        "test/acc",
        "test/precision_macro",
        "test/recall_macro",
        "test/f1_macro",
        "test/f1_weighted",
        "test/roc_auc",
        "test/ece",
        "model/params",
        "model/latency_ms",
    ):
        assert name in r.data.metrics, name
        assert len(client.get_metric_history(r.info.run_id, name)) == 1, name  # one point: a summary figure
    assert r.data.metrics["test/acc"] > 0.8
    # per-class figures are one table, not thirty one-point charts on the metrics page
    assert not [k for k in r.data.metrics if k.startswith(("test/f1/", "test/precision/", "test/recall/"))]
    assert "per_class_metrics.json" in artifact_paths(client, r.info.run_id)

    # the model is an MLflow 3 logged model: the run's output, its test metrics measured on the test dataset
    (output,) = r.outputs.model_outputs
    model = client.get_logged_model(output.model_id)
    assert model.name == "model" and model.source_run_id == r.info.run_id and model.status == "READY"
    assert r.data.tags["dlkit.model"] == f"models:/{model.model_id}"
    linked = {metric.key: metric for metric in model.metrics}
    assert linked["test/acc"].value == pytest.approx(r.data.metrics["test/acc"])
    assert linked["test/acc"].dataset_name == "digits-test"
    assert model.params["model.hidden"] == "[64]"

    assert artifact_paths(client, r.info.run_id) >= ARTIFACTS
    local = Path(client.download_artifacts(r.info.run_id, "", str(workdir / "dl")))
    assert (workdir / "mlruns").is_dir()  # artifacts beside the store
    # the resolved recipe reproduces the run's configuration
    reloaded = load(local / "recipe.yaml")
    assert reloaded.model_dump() == load("digits-mlp", ["trainer.max_epochs=3", "model.hidden=[64]"]).model_dump()
    # the checkpoint loads without unpickling code
    state = torch.load(local / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    assert any(k.startswith("backbone.") for k in state["state_dict"])
    cm = pd.read_csv(local / "confusion_matrix.csv", index_col=0)
    assert list(cm.columns) == [str(d) for d in range(10)] and cm.index.name == "true"

    inputs = r.inputs.dataset_inputs
    contexts = sorted(next(t.value for t in i.tags if t.key == "mlflow.data.context") for i in inputs)
    assert contexts == ["testing", "training", "validation"]
    sizes = {
        next(t.value for t in i.tags if t.key == "dlkit.split"): int(
            next(t.value for t in i.tags if t.key == "dlkit.split_size")
        )
        for i in inputs
    }
    assert sum(sizes.values()) == 1797
    assert all(i.dataset.digest for i in inputs)


def test_logged_classification_metrics_equal_scikit_learn(workdir: Path, tracking_uri: str) -> None:
    from sklearn import metrics as skm

    recipe = load("breast-cancer-mlp", ["trainer.max_epochs=4"])
    result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    client = MlflowClient(tracking_uri)
    folder = Path(client.download_artifacts(result.run_id, "", str(workdir / "dl")))
    preds = pd.read_csv(folder / "predictions.csv")
    names = ["malignant", "benign"]
    assert list(preds.columns) == ["index", "true", "predicted", "prob_malignant", "prob_benign"]
    y, p = preds["true"], preds["predicted"]
    logged = client.get_run(result.run_id).data.metrics
    assert logged["test/acc"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-6)
    for avg in ("macro", "weighted"):
        assert logged[f"test/f1_{avg}"] == pytest.approx(skm.f1_score(y, p, average=avg, labels=names), abs=1e-5)
    assert logged["test/precision_macro"] == pytest.approx(
        skm.precision_score(y, p, average="macro", labels=names, zero_division=0), abs=1e-5
    )
    assert logged["test/recall_macro"] == pytest.approx(skm.recall_score(y, p, average="macro", labels=names), abs=1e-5)
    table = json.loads((folder / "per_class_metrics.json").read_text())
    per_class = {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["data"]}
    assert sorted(per_class) == sorted(names)
    for name in names:
        for key, score in (("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score)):
            expected = score(y, p, pos_label=name, average="binary")
            assert per_class[name][key] == pytest.approx(expected, abs=1e-5), (name, key)
            assert result.test_metrics[f"test/{key}/{name}"] == pytest.approx(expected, abs=1e-5)
    assert logged["test/roc_auc"] == pytest.approx(skm.roc_auc_score(y == "benign", preds["prob_benign"]), abs=1e-4)
    # calibration: torchmetrics' ECE (logged) equals the reliability diagram's bins (from predictions.csv)
    probs = preds[["prob_malignant", "prob_benign"]].to_numpy()
    truth = np.array([names.index(t) for t in y])
    confidence, hit = probs.max(axis=1), probs.argmax(axis=1) == truth
    bins = np.minimum((np.ceil(confidence * 15) - 1).clip(0), 14)  # 15 bins of (low, high]
    ece = sum(abs(hit[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean()
              for b in range(15) if (bins == b).any())  # fmt: skip
    assert logged["test/ece"] == pytest.approx(ece, abs=1e-5)
    calibration = pd.read_csv(folder / "calibration.csv")
    assert len(calibration) == 15 and calibration["count"].sum() == len(preds)
    assert (folder / "reliability_diagram.png").read_bytes()[:4] == b"\x89PNG"
    cm = pd.read_csv(folder / "confusion_matrix.csv", index_col=0)
    np.testing.assert_array_equal(cm.to_numpy(), skm.confusion_matrix(y, p, labels=names))
    report = json.loads((folder / "classification_report.json").read_text())
    assert report["malignant"]["support"] == int((y == "malignant").sum())
    assert report["benign"]["recall"] == pytest.approx(skm.recall_score(y, p, pos_label="benign"), abs=1e-6)
    # rows of predictions.csv are the test split's original indices
    assert len(preds) == 114 and preds["index"].is_unique


@pytest.mark.parametrize("transform", ["standard", "log1p"])
def test_regression_run_metrics_equal_scikit_learn(workdir: Path, tracking_uri: str, transform: str) -> None:
    from sklearn import metrics as skm

    result = run(
        load("diabetes-mlp", ["trainer.max_epochs=5", f"task.target_transform={transform}"]),
        tracking_uri=tracking_uri,
        say=lambda _: None,
        progress_bar=False,
    )
    client = MlflowClient(tracking_uri)
    assert {"residuals.png", "predictions.csv", "learning_curves.png"} <= artifact_paths(client, result.run_id)
    preds = pd.read_csv(client.download_artifacts(result.run_id, "predictions.csv", str(workdir)))
    logged = client.get_run(result.run_id).data.metrics
    y, p = preds["true"], preds["predicted"]
    assert logged["test/mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-4)
    assert logged["test/rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), rel=1e-4)
    assert logged["test/r2"] == pytest.approx(skm.r2_score(y, p), abs=1e-4)
    assert len(client.get_metric_history(result.run_id, "val/rmse")) == 5
    assert 50 < p.median() < 300  # in the target's units (disease progression 25..346), not log or z units


def test_bad_input_creates_no_run(workdir: Path) -> None:
    done = cli("train", "iris-mlp", "model.arch=cnn", cwd=workdir)
    assert done.returncode == 2
    assert done.stderr.startswith("error: model.arch cnn needs image inputs")
    assert "Traceback" not in done.stderr
    if (workdir / "mlflow.db").exists():
        client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_unwritable_store_fails_before_training(workdir: Path) -> None:
    done = cli("train", "iris-mlp", "--tracking-uri", "sqlite:////nonexistent/dir/mlflow.db", cwd=workdir)
    assert done.returncode == 2
    assert "sqlite:////nonexistent/dir/mlflow.db" in done.stderr and "epoch" not in done.stdout


def test_a_failing_run_is_marked_failed(workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlkit.tasks.classification import ClassificationTask

    def broken(self: object, batch: object, batch_idx: int) -> None:
        raise RuntimeError("simulated fault in the training step")

    monkeypatch.setattr(ClassificationTask, "training_step", broken)
    with pytest.raises(TrainingFailed, match="simulated fault"):
        run(
            load("iris-mlp", ["trainer.max_epochs=2"]),
            tracking_uri=tracking_uri,
            say=lambda _: None,
            progress_bar=False,
        )
    r = only_run(tracking_uri)
    assert r.info.status == "FAILED"
    assert "simulated fault" in r.data.tags["dlkit.failure"]


def test_an_interrupted_run_is_marked_killed(workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from dlkit.tasks.classification import ClassificationTask

    def interrupt(self: object, batch: object, batch_idx: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassificationTask, "training_step", interrupt)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(Interrupted):
            run(
                load("iris-mlp", ["trainer.max_epochs=2"]),
                tracking_uri=tracking_uri,
                say=lambda _: None,
                progress_bar=False,
            )
    finally:
        signal.signal(signal.SIGINT, previous)  # Lightning ignores further Ctrl-C after the first
    assert only_run(tracking_uri).info.status == "KILLED"


def test_schedules_step_as_under_automatic_optimisation(workdir: Path, tracking_uri: str) -> None:
    """dlkit writes the optimisation step out: epoch schedules step once per epoch, plateau on the monitor."""

    def lrs(*overrides: str) -> list[float]:
        recipe = load("iris-mlp", ["trainer.max_epochs=4", "trainer.early_stopping=null", "optim.lr=0.01", *overrides])
        result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
        return [row["train/lr"] for row in result.history]

    assert lrs("optim.scheduler.name=step", "optim.scheduler.step_size=1", "optim.scheduler.gamma=0.5") == (
        pytest.approx([0.01, 0.005, 0.0025, 0.00125])
    )
    # nothing improves at lr 1e-6 with patience 0: the lr halves after every epoch but the first
    plateau = lrs("optim.lr=1e-6", "optim.scheduler.name=plateau", "optim.scheduler.patience=0",
                  "optim.scheduler.gamma=0.5", "optim.scheduler.min_lr=0")  # fmt: skip
    assert plateau[0] == pytest.approx(1e-6) and plateau[-1] < plateau[0] / 2


def test_step_groups_change_nothing_but_speed(workdir: Path, tracking_uri: str) -> None:
    """Grouped batches (trainer.steps_per_call) give exactly the run of one batch per Lightning step:
    same losses, same metrics."""

    def fit(steps_per_call: int) -> tuple[list[float], dict[str, float]]:
        recipe = load("digits-mlp", ["trainer.max_epochs=3", "trainer.early_stopping=null", "trainer.num_threads=1",
                                     "trainer.deterministic=true", "trainer.gradient_clip_val=0.5",
                                     f"trainer.steps_per_call={steps_per_call}"])  # fmt: skip
        result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
        return [row["train/loss"] for row in result.history], result.test_metrics

    reference_losses, reference_test = fit(1)
    for steps_per_call in (8, 5):
        losses, test = fit(steps_per_call)
        assert losses == pytest.approx(reference_losses, rel=1e-6), steps_per_call
        assert test == pytest.approx(reference_test, rel=1e-6), steps_per_call


def test_gradient_clipping_bounds_every_step(workdir: Path) -> None:
    """trainer.gradient_clip_val applies in the written-out step: plain SGD moves no weight further than lr * clip."""
    import lightning as L

    from dlkit import data, models, tasks
    from dlkit.process import silence_libraries

    silence_libraries()
    recipe = load(
        "iris-mlp",
        ["optim.name=sgd", "optim.momentum=0", "optim.lr=1.0", "optim.weight_decay=0",
         "trainer.gradient_clip_val=1e-4", "trainer.max_epochs=1"],
    )  # fmt: skip
    module = data.build(recipe)
    task = tasks.build(recipe, models.build(recipe.model, module.info), module.info)
    before = torch.cat([p.detach().flatten().clone() for p in task.parameters()])
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")  # fmt: skip
    trainer.fit(task, datamodule=module)
    after = torch.cat([p.detach().flatten() for p in task.parameters()])
    steps = trainer.global_step
    assert steps == len(module.train_dataloader())
    # each step's gradient norm is at most 1e-4 with lr 1: the whole move is at most steps * 1e-4
    assert 0 < float((after - before).norm()) <= steps * 1e-4 * 1.001


def test_early_stopping_and_schedulers(workdir: Path, tracking_uri: str) -> None:
    for sched in ("step", "cosine", "plateau", "onecycle"):
        result = run(
            load(
                "iris-mlp",
                [
                    "trainer.max_epochs=4",
                    f"optim.scheduler.name={sched}",
                    "optim.scheduler.step_size=1",
                    "optim.l1=1e-4",
                ],
            ),
            tracking_uri=tracking_uri,
            say=lambda _: None,
            progress_bar=False,
        )
        lrs = [row["train/lr"] for row in result.history]
        assert len(lrs) == 4 and (sched == "plateau" or lrs[-1] != lrs[0]), sched
    result = run(
        load(
            "iris-mlp",
            [
                "trainer.max_epochs=50",
                "optim.lr=1e-9",
                "trainer.early_stopping.patience=2",
                "trainer.early_stopping.min_delta=0.01",
                "optim.name=sgd",
                "optim.nesterov=true",
            ],
        ),
        tracking_uri=tracking_uri,
        say=lambda _: None,
        progress_bar=False,
    )
    assert len(result.history) == 3  # nothing improves by 0.01: stops after patience


class _Steps:
    """Counts optimisation steps and test batches of a run (a Lightning callback, defined lazily)."""

    @staticmethod
    def callback() -> object:
        from lightning.pytorch.callbacks import Callback

        class Counter(Callback):
            def __init__(self) -> None:
                self.steps = 0
                self.epochs = 0
                self.test_batches = 0

            def on_train_epoch_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
                self.epochs += 1
                self.steps = trainer.global_step

            def on_test_batch_end(self, *args) -> None:  # type: ignore[no-untyped-def]
                self.test_batches += 1

        return Counter()


@pytest.mark.parametrize(
    ("overrides", "steps", "epochs"),
    [
        # batch limits count batches, with grouped steps (steps_per_call 8) as without
        (["trainer.limit_train_batches=3", "trainer.max_epochs=2"], 6, 2),
        (["trainer.limit_train_batches=3", "trainer.max_epochs=2", "trainer.steps_per_call=1"], 6, 2),
        (["trainer.fast_dev_run=true", "trainer.max_epochs=5"], 1, 1),
        (["trainer.fast_dev_run=2"], 2, 1),
    ],
)
def test_fast_dev_run_and_batch_limits_shorten_the_run(
    workdir: Path, tracking_uri: str, overrides: list[str], steps: int, epochs: int
) -> None:
    from dlkit.training.run import Nested

    counter = _Steps.callback()
    recipe = load("digits-mlp", ["trainer.early_stopping=null", "tracking.enabled=false", *overrides])
    result = run(recipe, say=lambda _: None, progress_bar=False, nested=Nested("", "", callbacks=[counter]))
    assert (counter.steps, counter.epochs) == (steps, epochs)  # type: ignore[attr-defined]
    if recipe.trainer.fast_dev_run:
        assert counter.test_batches == recipe.trainer.fast_dev_run  # type: ignore[attr-defined]
    assert result.test_metrics["test/acc"] >= 0.0


@pytest.mark.parametrize("value", ["0", "1.5", "-2", "'all'"])
def test_batch_limits_refuse_what_is_neither_a_count_nor_a_share(value: str) -> None:
    from dlkit.errors import RecipeError

    with pytest.raises(RecipeError, match=r"trainer\.limit_train_batches"):
        load("digits-mlp", [f"trainer.limit_train_batches={value}"])


def test_epoch_losses_weigh_every_row_the_same(tmp_path: Path) -> None:
    """val/loss and test/loss are means over rows, not over batches: a small last batch counts for its rows."""
    import torch.nn.functional as F

    from dlkit import data
    from dlkit.tasks.predictor import Predictor

    recipe = load("iris-mlp", ["trainer.max_epochs=2", "data.eval_batch_size=16"])
    result = run(recipe, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", say=lambda _: None, progress_bar=False)
    module = data.build(recipe)
    sizes = module.info.split_sizes
    assert sizes["val"] % 16 and sizes["test"] % 16  # each split ends in a smaller batch
    task = Predictor.load(str(result.best_checkpoint), None, "RUN").task.eval()
    with torch.no_grad():
        losses = {s: F.cross_entropy(task(module.splits[s][0]), module.splits[s][1]).item() for s in ("val", "test")}
    best = min(row["val/loss"] for row in result.history)
    assert best == pytest.approx(losses["val"], abs=1e-5)
    assert result.test_metrics["test/loss"] == pytest.approx(losses["test"], abs=1e-5)
