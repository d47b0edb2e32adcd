"""Finished runs looked up by id: read in place (no copy left in $TMPDIR), unfinished ones said so,
a run without a checkpoint named as such, and errors in --input labelled --input."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.cli.test_read_only import refused
from tests.conftest import cli

CORPUS = Path(__file__).parents[1] / "bad_inputs"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A folder with a store holding one iris run, and the rows of four flowers to predict."""
    folder = tmp_path_factory.mktemp("lookup")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = cli("train", "iris-mlp", "trainer.max_epochs=2", "--tracking-uri", uri, cwd=folder)
    assert done.returncode == 0, done.stderr
    client = MlflowClient(uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    header = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)"
    (folder / "rows.csv").write_text(f"{header}\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n4.9,3.0,1.4,0.2\n")
    return folder, uri, run.info.run_id


def test_commands_given_a_run_id_leave_no_checkpoint_copy_behind(
    trained: tuple[Path, str, str], tmp_path: Path
) -> None:
    folder, uri, run_id = trained
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    rows = str(folder / "rows.csv")
    for args in (
        ["predict", run_id, "-i", rows, "-o", str(tmp_path / "out.csv")],
        ["evaluate", run_id],
        ["explain", run_id, "-i", rows, "-o", str(tmp_path / "explained")],
        ["train", "iris-mlp", "trainer.max_epochs=1", f"model.init_from={run_id}"],
    ):
        done = cli(*args, "--tracking-uri", uri, cwd=folder, env=env)
        assert done.returncode == 0, (args, done.stderr)
        assert "warning:" not in done.stdout
    assert not [p.name for p in tmpdir.iterdir() if p.name.startswith("dlkit-")]


def test_a_run_that_did_not_finish_is_used_with_a_warning(trained: tuple[Path, str, str], tmp_path: Path) -> None:
    folder, uri, run_id = trained
    client = MlflowClient(uri)
    client.set_terminated(run_id, "FAILED")
    try:
        done = cli("predict", run_id, "-i", str(folder / "rows.csv"), "-o", str(tmp_path / "o.csv"),
                       "--tracking-uri", uri, cwd=folder)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"warning: run {run_id} is FAILED, not FINISHED" in done.stdout
        evaluated = cli("evaluate", run_id, "--tracking-uri", uri, cwd=folder)
        assert evaluated.returncode == 0 and "is FAILED, not FINISHED" in evaluated.stdout
    finally:
        client.set_terminated(run_id, "FINISHED")


def test_a_run_without_a_checkpoint_is_named_as_such(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # a loss that turns infinite in the first epoch: the run fails and keeps no checkpoint of such weights
    done = cli("train", "diabetes-mlp", "optim.name=sgd", "optim.lr=10", "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    client = MlflowClient(uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    evaluated = cli("evaluate", run.info.run_id, "--tracking-uri", uri, cwd=tmp_path)
    assert evaluated.returncode == 2
    assert f"run {run.info.run_id} (FAILED) has no checkpoints/best.ckpt" in evaluated.stderr
    assert "not found" not in evaluated.stderr


def test_errors_in_the_input_file_name_the_input_option(trained: tuple[Path, str, str], tmp_path: Path) -> None:
    folder, uri, run_id = trained
    done = cli("predict", run_id, "-i", str(CORPUS / "latin1.csv"), "-o", str(tmp_path / "o.csv"),
                   "--tracking-uri", uri, cwd=folder)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: --input: ") and "data.path" not in done.stderr, done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_predict_and_explain_to_a_read_only_place_fail_before_predicting(
    trained: tuple[Path, str, str], read_only_dir: Path
) -> None:
    folder, uri, run_id = trained
    for command, target in (("predict", read_only_dir / "out.csv"), ("explain", read_only_dir / "figures")):
        done = cli(command, run_id, "-i", str(folder / "rows.csv"), "-o", str(target), "--tracking-uri", uri,
                       cwd=folder)  # fmt: skip
        refused(done, "--output")
    assert not list(read_only_dir.iterdir())
