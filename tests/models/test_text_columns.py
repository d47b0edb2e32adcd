"""A table's text-column encoders: which read word order, what padding does to them, and real runs that
need the order (which of two words comes first) trained, exported and checked against onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from dlkit.data.info import TextBlock
from dlkit.models.text_columns import encoder
from dlkit.serving.export import export
from tests.conftest import train_in

ORDERED = ("gru", "lstm", "transformer")


def _block(kind: str) -> TextBlock:
    return TextBlock(start=1, length=6, vocab=12, embedding_dim=8, encoder=kind, hidden_size=8, heads=2)


@pytest.mark.parametrize("kind", ["bag", *ORDERED])
def test_word_order_and_padding(kind: str) -> None:
    torch.manual_seed(0)
    module = encoder(_block(kind)).eval()
    # column 0 is a number beside the text block (columns 1-6); row 2 is row 0's words reversed; row 3 is empty
    x = torch.tensor(
        [[5.0, 3, 4, 5, 0, 0, 0], [-9.0, 3, 4, 5, 0, 0, 0], [5.0, 5, 4, 3, 0, 0, 0], [5.0, 0, 0, 0, 0, 0, 0]]
    )
    with torch.no_grad():
        out = module(x)
    assert out.shape == (4, module.out_dim) and torch.isfinite(out).all()
    assert torch.allclose(out[0], out[1])  # only its own block is read
    assert torch.allclose(out[3], torch.zeros_like(out[3]))  # an empty text: nothing to average
    assert torch.allclose(out[0], out[2], atol=1e-6) == (kind == "bag")  # only the bag ignores order


def _which_first(rows: int, seed: int) -> pd.DataFrame:
    """The label is which of 'red' and 'blue' comes first; every text holds the same words otherwise."""
    r = np.random.default_rng(seed)
    filler = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "small"]
    texts, labels = [], []
    for _ in range(rows):
        words = list(r.choice(filler, 6))
        a, b = sorted(r.choice(7, 2, replace=False))
        red = bool(r.random() < 0.5)
        words.insert(a, "red" if red else "blue")
        words.insert(b, "blue" if red else "red")
        texts.append(" ".join(words))
        labels.append("red" if red else "blue")
    return pd.DataFrame({"text": texts, "noise": r.normal(size=rows), "first": labels})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("text-order")
    _which_first(1200, 0).to_csv(path / "order.csv", index=False)
    return path


def _train(folder: Path, kind: str) -> Any:
    return train_in(folder, "csv-mlp", [
        f"data.path={folder / 'order.csv'}", "data.target=first", "data.text=[text]", "trainer.max_epochs=12",
        "optim.lr=3e-3", "data.batch_size=32",
        f"data.text_encoder.encoder={kind}", "data.text_encoder.embedding_dim=16", "data.text_encoder.hidden_size=32",
    ])  # fmt: skip


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_an_order_reading_encoder_learns_what_the_bag_cannot_and_exports(folder: Path, kind: str) -> None:
    done = _train(folder, kind)
    assert done.test_metrics["test/acc"] >= 0.9, done.test_metrics
    for fmt in ("onnx", "torchscript"):
        exported = export(done.run_id, fmt, folder / f"{kind}-{fmt}", tracking_uri=done.tracking_uri,
                          log_to_run=False, say=lambda _: None)  # fmt: skip
        assert exported.parity <= 1e-4, (fmt, exported.parity)


def test_the_bag_reads_no_order(folder: Path) -> None:
    assert _train(folder, "bag").test_metrics["test/acc"] < 0.7


def _not_next_to(rows: int, seed: int) -> pd.DataFrame:
    """Every text holds 'not' and 'good' among the same fillers; the label is whether 'not' comes right
    before 'good' (a pair of neighbouring words), wherever the two sit."""
    r = np.random.default_rng(seed)
    filler = ["the", "a", "food", "was", "very", "so", "quite", "place", "and", "here"]
    texts, labels = [], []
    for _ in range(rows):
        words = list(r.choice(filler, 6))
        adjacent = bool(r.random() < 0.5)
        at = int(r.integers(0, 7))
        words[at:at] = ["not", "good"] if adjacent else ["good"]
        if not adjacent:  # 'not' elsewhere, never right before 'good'
            spots = [i for i in range(len(words) + 1) if i != words.index("good")]
            words.insert(int(r.choice(spots)), "not")
        texts.append(" ".join(words))
        labels.append("not good" if adjacent else "other")
    return pd.DataFrame({"text": texts, "label": labels})


def test_word_pairs_let_the_bag_read_neighbours(tmp_path: Path) -> None:
    from dlkit.data.table_text import fit, token_ids
    from dlkit.recipe.column_encoders import TextEncoder

    frame = _not_next_to(1200, 1)
    params = TextEncoder(ngrams=2, max_length=12, min_freq=1)
    fitted, ids = fit(frame, ["text"], np.arange(1000), params)
    assert ids.shape == (1200, 24) and "not good" in fitted["text"]["vocab"]
    assert (token_ids(frame, fitted, "rows") == ids).all()  # new rows are read as the training rows were
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    runs = {}
    for n in (1, 2):
        runs[n] = train_in(tmp_path, "csv-mlp", [
            f"data.path={path}", "data.target=label", "data.text=[text]", "trainer.max_epochs=12", "optim.lr=3e-3",
            "data.batch_size=32", f"data.text_encoder.ngrams={n}", "data.text_encoder.embedding_dim=16",
        ])  # fmt: skip
    assert runs[1].test_metrics["test/acc"] < 0.7  # the words alone are the same in both classes
    assert runs[2].test_metrics["test/acc"] >= 0.9
    exported = export(runs[2].run_id, "onnx", tmp_path / "pairs-onnx", tracking_uri=runs[2].tracking_uri,
                      log_to_run=False, say=lambda _: None)  # fmt: skip
    assert exported.parity <= 1e-4


def test_word_pairs_are_for_the_bag() -> None:
    from dlkit.errors import RecipeError
    from dlkit.recipe import load

    with pytest.raises(RecipeError, match="ngrams 2 is for encoder bag; encoder gru reads the word order"):
        load("csv-mlp", ["data.text=[t]", "data.text_encoder.encoder=gru", "data.text_encoder.ngrams=2"])
