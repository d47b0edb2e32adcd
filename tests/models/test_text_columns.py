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
