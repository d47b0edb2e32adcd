"""A table's free-text columns (data.text) read beside its numbers and categories: trained, predicted,
explained, exported and inferred by `dlkit train FILE --target COL`, on real runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dlkit.data.infer import draft
from dlkit.serving.explain import explain
from dlkit.serving.export import export
from tests.conftest import cli, train_in

PRAISE = ["great product love it", "works perfectly", "excellent quality would buy again", "very happy with this"]
COMPLAINTS = ["broke after a day", "terrible waste of money", "does not work at all", "disappointed returned it"]


def quiet(_: str) -> None:
    pass


def _reviews(rows: int, seed: int) -> pd.DataFrame:
    """Whether a buyer keeps an item: mostly what the review says, partly its price; the brand is noise."""
    r = np.random.default_rng(seed)
    liked = r.random(rows) < 0.5
    said = np.where(r.random(rows) < 0.9, liked, ~liked)
    filler = ["the", "box", "came", "on", "time", "and", "my", "order", "was", "for", "a", "gift", "it", "is"]
    review = [
        f"{r.choice(PRAISE if s else COMPLAINTS)} {' '.join(r.choice(filler, 5))} #{r.integers(10**6)}" for s in said
    ]
    price = r.exponential(size=rows) * 50
    frame = pd.DataFrame({"review": review, "price": price, "brand": r.choice(["a", "b", "c"], rows)})
    frame["kept"] = np.where((liked & (price < 120)) | (price < 5), "yes", "no")
    frame.loc[r.choice(rows, rows // 50, replace=False), "review"] = np.nan  # a review left empty
    return frame


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("table-text")
    _reviews(1500, 0).to_csv(folder / "reviews.csv", index=False)
    return folder


def _train(store: Path, *overrides: str) -> Any:
    base = [f"data.path={store / 'reviews.csv'}", "data.target=kept", "trainer.max_epochs=15", "data.impute=median"]
    return train_in(store, "csv-mlp", [*base, *overrides])


@pytest.fixture(scope="module")
def with_text(store: Path) -> Any:
    return _train(store, "data.text=[review]")


def test_the_text_column_lifts_the_table_model(store: Path, with_text: Any) -> None:
    without = _train(store, "data.drop=[review]")
    assert with_text.test_metrics["test/acc"] > without.test_metrics["test/acc"] + 0.1


def test_predict_explain_and_export_take_the_raw_rows(store: Path, with_text: Any) -> None:
    fresh = _reviews(30, 1).drop(columns=["kept"])
    fresh.loc[0, "review"] = "words nobody wrote in training"
    path = store / "fresh.csv"
    fresh.to_csv(path, index=False)
    out = store / "predicted.csv"
    done = cli("predict", with_text.run_id, "-i", str(path), "-o", str(out),
                   "--tracking-uri", with_text.tracking_uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == 30

    explained = explain(
        with_text.run_id, path, output=store / "explain", tracking_uri=with_text.tracking_uri, say=quiet
    )
    table = pd.read_csv(store / "explain" / "integrated_gradients.csv").set_index("feature")
    # the review decides most of it, and its tokens (no gradient of their own) are attributed through the embedding
    assert table.loc["review (text)", "mean_abs_attribution"] > table.loc["brand=a", "mean_abs_attribution"]
    assert not any(name.startswith("review#") for name in table.index)
    page = (store / "explain" / "integrated_gradients-review.html").read_text()
    assert "returned" in page or "excellent" in page
    assert any(p.suffix == ".html" for p in explained.files)

    for fmt in ("onnx", "torchscript"):
        exported = export(with_text.run_id, fmt, store / f"export-{fmt}", tracking_uri=with_text.tracking_uri,
                          log_to_run=False, say=quiet)  # fmt: skip
        assert exported.parity <= 1e-4


def test_only_the_mlp_reads_text_columns(store: Path) -> None:
    done = cli("train", "csv-mlp", f"data.path={store / 'reviews.csv'}", "data.target=kept", "data.text=[review]",
                   "model.arch=autoencoder", "task.kind=regression", cwd=store)  # fmt: skip
    assert done.returncode == 2
    assert "data.text: needs model.arch: mlp; model.arch autoencoder cannot read a table's text columns" in done.stderr


def test_a_long_free_text_column_is_inferred_as_text(store: Path) -> None:
    found = draft(str(store / "reviews.csv"), "kept")
    data = found.recipe["data"]
    assert data["text"] == ["review"] and "review" not in data["drop"] and data["categorical"] == ["brand"]
    assert data["text_encoder"] == {"ngrams": 2}  # words and pairs of words: trump_tweets 0.609 macro F1, not 0.584
    assert any("1 text" in line for line in found.summary)


def test_embedded_categories_are_attributed_through_their_embedding(store: Path) -> None:
    trained = _train(store, "data.text=[review]", "data.categorical_encoding=embedding", "trainer.max_epochs=3")
    path = store / "some.csv"
    _reviews(20, 2).drop(columns=["kept"]).to_csv(path, index=False)
    explain(trained.run_id, path, output=store / "embedded", tracking_uri=trained.tracking_uri, say=quiet)
    table = pd.read_csv(store / "embedded" / "integrated_gradients.csv").set_index("feature")
    # a code has no gradient: read off the raw input, the brand would get exactly 0
    assert set(table.index) == {"price", "brand", "review (text)"}
    assert table.loc["brand", "mean_abs_attribution"] > 0
