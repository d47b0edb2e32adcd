"""Faults provoked for real: NaN losses, SIGTERM, Ctrl-C, SIGKILL and exact resume, stores created at once,
an unreachable server, an interrupted migration."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from dlkit.errors import NonFiniteLoss
from dlkit.recipe import load
from dlkit.training import run
from tests.conftest import cli, run_cli
from tests.postgres import free_port

# deterministic, one thread, no early stop: two runs with the same seed give the same numbers
EXACT = ["trainer.deterministic=true", "trainer.num_threads=1", "trainer.early_stopping=null"]


def quiet(_: str) -> None:
    pass


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dlkit", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_epochs(proc: subprocess.Popen[str], epochs: int) -> str:
    """The run id, once the process has reported `epochs` epochs (and so written the checkpoint of the one before).

    The process's own progress lines are read, not the store: epoch metrics reach the store from
    a writer thread about once a second, so a short run would be past the point by then.
    """
    assert proc.stdout is not None
    run_id = ""
    for line in proc.stdout:
        if line.startswith("run ") and not run_id:
            run_id = line.split()[1]
        if run_id and line.startswith("epoch ") and line.split("/")[0].split()[1] == str(epochs):  # "epoch  2/24"
            return run_id
    out, err = proc.communicate(timeout=60)
    raise AssertionError(f"the run never reached {epochs} epochs: {out}{err}")


def _checkpoints(run: Any) -> Path:
    """The checkpoints folder among a run's artifacts in a local store."""
    return Path(run.info.artifact_uri.replace("file://", "")) / "checkpoints"


def test_a_nonfinite_loss_stops_the_run_with_its_epoch_and_step(workdir: Path, tracking_uri: str) -> None:
    recipe = load("diabetes-mlp", ["optim.name=sgd", "optim.lr=10", "trainer.max_epochs=5"])
    with pytest.raises(NonFiniteLoss, match=r"NaN or infinite at epoch 1, step \d+") as info:
        run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert "optim.lr" in (info.value.hint or "")
    client = MlflowClient(tracking_uri)
    (logged,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert logged.info.status == "FAILED" and logged.data.tags["dlkit.failure"] == "nonfinite_loss"
    assert "epoch 1" in logged.data.tags["dlkit.failure_message"]
    folder = _checkpoints(logged)
    assert not list(folder.glob("*.ckpt"))  # nothing saved from non-finite weights


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_after_the_step_and_the_run_resumes(workdir: Path, signum: int, code: int) -> None:
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    proc = _start(["train", "digits-mlp", "trainer.max_epochs=24", *EXACT, "--tracking-uri", uri], workdir)
    run_id = _wait_for_epochs(proc, 2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, out + err
    errors = [line for line in err.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), err
    assert f"dlkit train --resume {run_id}" in errors[0], err
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "KILLED"

    resumed = cli("train", "--resume", run_id, "--tracking-uri", uri, cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming run {run_id}" in resumed.stdout
    finished = client.get_run(run_id)
    assert finished.info.status == "FINISHED" and "test/acc" in finished.data.metrics
    steps = [p.step for p in client.get_metric_history(run_id, "train/loss")]
    assert sorted(steps) == list(range(1, 25))  # every epoch once: none lost, none duplicated


def test_resume_after_sigkill_ends_exactly_like_an_uninterrupted_run(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    common = ["train", "digits-mlp", "trainer.max_epochs=6", *EXACT, "--tracking-uri", uri]
    whole = cli(*common, cwd=workdir)
    assert whole.returncode == 0, whole.stderr
    client = MlflowClient(uri)
    (reference,) = client.search_runs([e.experiment_id for e in client.search_experiments()])

    proc = _start(common, workdir)
    run_id = _wait_for_epochs(proc, 3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert client.get_run(run_id).info.status == "RUNNING"
    listed = cli("runs", "ls", "--tracking-uri", uri, cwd=workdir)
    assert "RUNNING (stale)" in next(line for line in listed.stdout.splitlines() if run_id in line)

    resumed = cli("train", "--resume", run_id, "--tracking-uri", uri, cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    again = client.get_run(run_id)
    assert again.info.status == "FINISHED"
    for key, value in reference.data.metrics.items():
        if key.startswith("test/"):
            assert math.isclose(again.data.metrics[key], value, rel_tol=1e-6, abs_tol=1e-7), key
    steps = [p.step for p in client.get_metric_history(run_id, "val/loss")]
    assert sorted(steps) == list(range(1, 7))
    refused = cli("train", "--resume", run_id, "--tracking-uri", uri, cwd=workdir)
    assert refused.returncode == 2 and "already finished" in refused.stderr


def test_two_trainings_create_a_fresh_store_at_the_same_instant(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'fresh.db'}"
    procs = [_start(["train", "iris-mlp", "trainer.max_epochs=3", "--tracking-uri", uri], workdir) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, out + err
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    for r in runs:
        assert len(client.get_metric_history(r.info.run_id, "train/loss")) == 3


def test_an_unreachable_tracking_server_fails_before_training(workdir: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.time()
    done = cli("train", "iris-mlp", "--tracking-uri", uri, cwd=workdir)
    assert done.returncode == 2
    assert f"tracking server {uri} is unreachable" in done.stderr and "Traceback" not in done.stderr
    assert "epoch 1" not in done.stdout
    assert time.time() - started < 60


def test_a_store_left_mid_migration_is_repaired(workdir: Path) -> None:
    db = workdir / "mlflow.db"
    uri = f"sqlite:///{db}"
    first = run_cli("train", "iris-mlp", "trainer.max_epochs=1", "--tracking-uri", uri, cwd=workdir)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(db) as connection:  # what a process killed inside an MLflow migration leaves
        connection.execute("CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER)")
    second = run_cli("train", "iris-mlp", "trainer.max_epochs=1", "--tracking-uri", uri, cwd=workdir)
    assert second.returncode == 0, second.stderr


def test_a_full_disk_never_replaces_a_good_checkpoint(
    workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    from dlkit.errors import TrainingFailed
    from dlkit.models.checkpoints import read_checkpoint

    real_save = TorchCheckpointIO.save_checkpoint

    def save(self: TorchCheckpointIO, checkpoint: dict[str, Any], path: str, *args: object) -> None:
        if checkpoint["epoch"] >= 2:  # half a file, then the disk is full
            Path(path).write_bytes(b"PK\x03\x04 truncated")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(self, checkpoint, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", save)
    with pytest.raises(TrainingFailed, match="No space left on device"):
        run(load("iris-mlp", ["trainer.max_epochs=5", "trainer.early_stopping=null"]), tracking_uri=tracking_uri,
            say=quiet, progress_bar=False)  # fmt: skip
    client = MlflowClient(tracking_uri)
    (failed,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert failed.info.status == "FAILED"
    folder = _checkpoints(failed)
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt", "last.ckpt"]  # no partial file left
    # the good checkpoints written before the disk filled up, intact
    assert read_checkpoint(folder / "last.ckpt", "test")["epoch"] <= 1
    assert read_checkpoint(folder / "best.ckpt", "test")["epoch"] <= 1


@pytest.mark.parametrize(("budget", "written"), [(1e-9, [0, 11]), (1e9, list(range(12)))])
def test_the_last_checkpoint_is_written_within_its_time_budget_and_always_at_the_end(
    workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch, budget: float, written: list[int]
) -> None:
    """Writing the resume checkpoint after every short epoch cost a sixth of a small tuning trial: an epoch
    that ends too soon after the last write (for the budget) is not written; the first and the final are."""
    from dlkit.models.checkpoints import read_checkpoint
    from dlkit.training.checkpointing import CheckpointWriter, LastCheckpoint

    epochs: list[int] = []
    real_save = LastCheckpoint._save_checkpoint

    def save(self: LastCheckpoint, trainer: Any, filepath: str) -> None:
        epochs.append(trainer.current_epoch)
        real_save(self, trainer, filepath)

    monkeypatch.setattr(LastCheckpoint, "_save_checkpoint", save)
    monkeypatch.setattr(CheckpointWriter, "budget", budget)
    result = run(load("iris-mlp", ["trainer.max_epochs=12", "trainer.early_stopping=null"]), tracking_uri=tracking_uri,
                 say=quiet, progress_bar=False)  # fmt: skip
    assert epochs == written
    folder = _checkpoints(MlflowClient(tracking_uri).get_run(result.run_id))
    assert read_checkpoint(folder / "last.ckpt", "test")["epoch"] == 11


def test_a_best_checkpoint_held_between_writes_is_written_when_the_fit_ends(
    workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing the best checkpoint at every improvement cost a short-epoch run about a fifth of each
    epoch: within the write budget the improvement is kept in memory, and the file is current when the
    fit returns (the test split scores the best epoch, not an older one)."""
    import torch
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    from dlkit.models.checkpoints import read_checkpoint
    from dlkit.training.checkpointing import CheckpointWriter

    written: list[tuple[str, int]] = []
    real_save = TorchCheckpointIO.save_checkpoint

    def save(self: TorchCheckpointIO, checkpoint: dict[str, Any], path: str, *args: object) -> None:
        written.append((Path(path).name.split(".")[0], checkpoint["epoch"]))
        real_save(self, checkpoint, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", save)
    monkeypatch.setattr(CheckpointWriter, "budget", 1e-9)  # after a file's first write, hold every later one
    # a high learning rate: the validation loss improves, then bounces, so the best epoch is not the last
    recipe = load("iris-mlp", ["trainer.max_epochs=12", "optim.lr=0.05", *EXACT])
    result = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    losses = [row["val/loss"] for row in result.history]
    best = losses.index(min(losses))
    assert 0 < best < 11, losses
    assert [epoch for name, epoch in written if name == "best"] == [0, best]
    assert [epoch for name, epoch in written if name == "last"] == [0, 11]
    saved = read_checkpoint(Path(_checkpoints(MlflowClient(tracking_uri).get_run(result.run_id))) / "best.ckpt", "test")
    assert saved["epoch"] == best
    final = read_checkpoint(Path(_checkpoints(MlflowClient(tracking_uri).get_run(result.run_id))) / "last.ckpt", "test")
    # held as the weights were at that epoch, not as they trained on
    assert any(not torch.equal(w, final["state_dict"][k]) for k, w in saved["state_dict"].items())


def test_an_early_stop_writes_its_final_epoch(
    workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlkit.models.checkpoints import read_checkpoint
    from dlkit.training.checkpointing import CheckpointWriter

    monkeypatch.setattr(CheckpointWriter, "budget", 1e-9)  # nothing written between the first and the final epoch
    recipe = load("iris-mlp", ["trainer.max_epochs=500", "optim.lr=1e-5", "trainer.early_stopping.patience=2",
                               "trainer.early_stopping.min_delta=0.5"])  # fmt: skip
    result = run(recipe, tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    stopped = len(result.history)
    assert 1 < stopped < 500
    folder = _checkpoints(MlflowClient(tracking_uri).get_run(result.run_id))
    assert read_checkpoint(folder / "last.ckpt", "test")["epoch"] == stopped - 1


def test_the_code_never_unpickles_or_evaluates_untrusted_text() -> None:
    import re

    source = Path(__file__).resolve().parents[2] / "dlkit"
    for path in source.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?<![\w.])(eval|exec)\(", text), path
        assert "pickle.load" not in text, path
        for call in re.findall(r"yaml\.load\([^)]*\)", text):  # only with the safe loader (C or Python)
            assert "Loader=SafeLoader" in call, (path, call)
        assert "yaml.unsafe_load" not in text and "yaml.full_load" not in text, path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)
