"""The attention combiner of a table's MLP (model.combiner: attention): one token per input column, on
real runs over numbers, categories and text together, explained and exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dlkit.models.combiner import column_groups
from dlkit.serving.explain import explain
from dlkit.serving.export import export
from tests.conftest import cli, train_in
from tests.contract.harness import run_states


def test_the_inputs_of_one_column_make_one_token() -> None:
    names = ["price#0", "price#1", "city=Oslo", "city=Rome", "age", "sold.month", "sold.day"]
    assert column_groups(names, [0, 1, 2, 3, 4, 5, 6]) == [[0, 1], [2, 3], [4], [5], [6]]
    assert column_groups(names, [4, 0]) == [[4], [0]]  # only the positions asked for, in their order
    assert column_groups([], [0, 1]) == [[0], [1]]  # no names: every input its own token


def _listings(rows: int, seed: int) -> pd.DataFrame:
    """Whether a flat sells within a month: its price read against its district's level (an interaction
    between a category and a number), and what the advert says."""
    r = np.random.default_rng(seed)
    level = {"north": 200.0, "centre": 400.0, "south": 120.0, "east": 260.0}
    district = r.choice(list(level), rows)
    price = np.array([level[d] for d in district]) * r.lognormal(0, 0.35, rows)
    bright = r.random(rows) < 0.5
    advert = [("bright sunny balcony" if b else "quiet courtyard view") + f" ref {r.integers(10**5)}" for b in bright]
    cheap = price < np.array([level[d] for d in district])
    sold = np.where(
        r.random(rows) < 0.92, cheap | (bright & (price < 1.2 * np.array([level[d] for d in district]))), ~cheap
    )
    return pd.DataFrame({"district": district, "price": price, "advert": advert, "sold": np.where(sold, "yes", "no")})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("combiner")
    _listings(1500, 0).to_csv(path / "flats.csv", index=False)
    return path


def _train(folder: Path, *overrides: str) -> Any:
    return train_in(folder, "csv-mlp", [
        f"data.path={folder / 'flats.csv'}", "data.target=sold", "data.text=[advert]", "trainer.max_epochs=20",
        "data.categorical_encoding=embedding", "data.numeric_encoding=piecewise", *overrides,
    ])  # fmt: skip


def test_attention_over_the_columns_learns_an_interaction_explains_and_exports(folder: Path) -> None:
    done = _train(folder, "model.combiner=attention", "model.combiner_dim=16", "model.combiner_heads=2")
    assert done.test_metrics["test/acc"] >= 0.8, done.test_metrics
    fresh = _listings(20, 1).drop(columns=["sold"])
    fresh.to_csv(folder / "fresh.csv", index=False)
    explain(done.run_id, folder / "fresh.csv", output=folder / "explain", tracking_uri=done.tracking_uri,
            say=lambda _: None)  # fmt: skip
    table = pd.read_csv(folder / "explain" / "integrated_gradients.csv").set_index("feature")
    assert {"district", "advert (text)"} <= set(table.index)
    for fmt in ("onnx", "torchscript"):
        exported = export(done.run_id, fmt, folder / f"export-{fmt}", tracking_uri=done.tracking_uri,
                          log_to_run=False, say=lambda _: None)  # fmt: skip
        assert exported.parity <= 1e-4, (fmt, exported.parity)


def test_heads_that_do_not_divide_the_width_are_refused(folder: Path) -> None:
    done = cli("train", "csv-mlp", f"data.path={folder / 'flats.csv'}", "data.target=sold",
                   "model.combiner=attention", "model.combiner_dim=30", "model.combiner_heads=4", cwd=folder)  # fmt: skip
    assert done.returncode == 2
    assert "combiner_heads 4 does not divide combiner_dim 30" in done.stderr
    assert not [s for s in run_states(folder) if s in ("RUNNING", "FAILED")]
