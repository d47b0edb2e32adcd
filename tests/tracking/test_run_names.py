"""Run names say what differs from the recipe and are unique within an experiment."""

from __future__ import annotations

from mlflow import MlflowClient

from dlkit.tracking.mlflow_run import MlflowRun
from dlkit.tracking.run_names import MAX_READABLE, readable


def test_readable_names_list_the_overrides_by_their_last_key() -> None:
    assert readable("iris-mlp", []) == "iris-mlp"
    assert readable("iris-mlp", ["optim.lr=0.01", "model.hidden=[64, 32]"]) == "iris-mlp lr=0.01 hidden=[64, 32]"
    # two keys ending alike keep their full names
    assert readable("r", ["model.dropout=0.1", "data.dropout=0.2"]) == "r model.dropout=0.1 data.dropout=0.2"
    assert readable("r", ["data.path='a b.csv'"]) == "r path=a b.csv"  # no quotes in names
    long = readable("r", [f"model.hidden=[{', '.join(['512'] * 40)}]"])
    assert len(long) == MAX_READABLE and long.endswith("…")


def test_a_name_taken_in_the_experiment_gets_a_numbered_suffix(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    names = []
    for _ in range(3):
        with MlflowRun(uri, "names", "iris-mlp lr=0.01", {}, unique_name=True) as run:
            names.append(MlflowClient(uri).get_run(run.run_id).info.run_name)
    with MlflowRun(uri, "names", "iris-mlp", {}, unique_name=True) as run:  # a prefix of the others: still free
        names.append(MlflowClient(uri).get_run(run.run_id).info.run_name)
    with MlflowRun(uri, "other", "iris-mlp lr=0.01", {}, unique_name=True) as run:  # another experiment
        names.append(MlflowClient(uri).get_run(run.run_id).info.run_name)
    assert names == ["iris-mlp lr=0.01", "iris-mlp lr=0.01-2", "iris-mlp lr=0.01-3", "iris-mlp", "iris-mlp lr=0.01"]
