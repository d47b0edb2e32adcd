"""dlkit export: real runs exported to ONNX and TorchScript, run by onnxruntime and the TorchScript
interpreter, against `dlkit predict` on the same raw data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from dlkit.data.scaling import apply_scaler, fit_bins, fit_scaler, piecewise
from dlkit.data.scaling_graph import Piecewise, Quantile
from dlkit.recipe import load
from dlkit.serving.export import export
from dlkit.tracking.logged_models import run_model_id
from dlkit.training import run
from tests.conftest import SHARED_DATA, cli

onnxruntime = pytest.importorskip("onnxruntime")


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export")


def _table(rows: int, seed: int) -> pd.DataFrame:
    """Numbers with gaps, a skewed amount, a category with gaps and one value training never sees, a date."""
    r = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "level": r.normal(size=rows),
            "amount": r.exponential(size=rows) * 1000,
            "city": r.choice(["north", "south", "east"], rows),
            "day": pd.date_range("2021-01-01", periods=rows, freq="D").astype(str),
        }
    )
    frame["label"] = np.where(frame.level + (frame.city == "north") > 0.3, "yes", "no")
    frame["price"] = (frame.amount * 2 + r.normal(size=rows) * 50).abs()
    frame.loc[r.choice(rows, rows // 20, replace=False), "level"] = np.nan
    frame.loc[r.choice(rows, rows // 20, replace=False), "city"] = np.nan
    return frame


def _train(store: Path, recipe: str, overrides: list[str]) -> Any:
    uri = f"sqlite:///{store / 'mlflow.db'}"
    return run(load(recipe, overrides), tracking_uri=uri, say=quiet, progress_bar=False)


@pytest.fixture(scope="module")
def table_run(store: Path) -> Any:
    path = store / "table.csv"
    _table(500, 0).to_csv(path, index=False)
    return _train(
        store, "csv-mlp", [f"data.path={path}", "data.target=label", "data.drop=[price]", "trainer.max_epochs=3"]
    )


def test_onnx_takes_the_raw_table_and_answers_as_dlkit_predict(table_run: Any, store: Path) -> None:
    out = store / "table-onnx"
    done = cli("export", table_run.run_id, "-o", str(out), "--quantize", "int8",
                   "--tracking-uri", table_run.tracking_uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "parity:" in done.stdout and "int8: model.int8.onnx" in done.stdout and "test accuracy" in done.stdout
    assert {p.name for p in out.iterdir()} == {"model.onnx", "model.int8.onnx", "MODEL_CARD.md", "preprocessing.json"}

    # new rows with a gap in each column and a city training never saw, through the graph and through predict
    fresh = _table(40, 1).drop(columns=["label", "price"])
    fresh.loc[0, "city"] = "atlantis"
    fresh.loc[1, ["level", "city"]] = [np.nan, np.nan]
    path = store / "fresh.csv"
    fresh.to_csv(path, index=False)
    predicted = store / "fresh-predicted.csv"
    done = cli("predict", table_run.run_id, "-i", str(path), "-o", str(predicted),
                   "--tracking-uri", table_run.tracking_uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(predicted)

    spec = json.loads((out / "preprocessing.json").read_text())
    assert spec["inputs"]["categories"]["dtype"] == "string" and "imputation" in spec["folded"]
    numbers = spec["inputs"]["numbers"]["columns"]
    assert numbers[:2] == ["level", "amount"] and numbers[2].startswith("day.")
    read = pd.read_csv(path)  # dates into their calendar parts, as the spec names them; the rest raw
    day = pd.to_datetime(read["day"])
    parts = {"year": day.dt.year, "month": day.dt.month, "day": day.dt.day, "day_of_week": day.dt.day_of_week,
             "day_of_year": day.dt.day_of_year}  # fmt: skip
    feed = {
        "numbers": np.stack([read[c] if c in read else parts[c.split(".")[1]] for c in numbers], 1).astype(np.float64),
        "categories": read[["city"]].fillna("").astype(str).to_numpy(dtype=object),
    }
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    (probabilities,) = session.run(["outputs"], feed)
    assert spec["outputs"]["outputs"]["columns"] == ["prob_no", "prob_yes"]
    np.testing.assert_allclose(probabilities, expected[["prob_no", "prob_yes"]].to_numpy(), atol=1e-5)

    card = (out / "MODEL_CARD.md").read_text()
    assert "| categories | string | [batch, 1] | city |" in card and "test/f1_macro" in card and "digest" in card

    # the graph is a logged model of the run; the run's own (pyfunc) model is still the one it serves
    client = MlflowClient(table_run.tracking_uri)
    outputs = client.get_run(table_run.run_id).outputs.model_outputs
    names = {client.get_logged_model(o.model_id).name: o.model_id for o in outputs}
    assert set(names) == {"model", "onnx"}
    assert run_model_id(table_run.tracking_uri, table_run.run_id) == names["model"]
    logged = {a.path for a in client.list_logged_model_artifacts(names["onnx"])}
    assert {"MLmodel", "model.onnx", "MODEL_CARD.md", "preprocessing.json"} <= logged
    assert client.get_run(table_run.run_id).info.status == "FINISHED"


def test_torchscript_takes_category_codes(table_run: Any, store: Path) -> None:
    out = store / "table-torchscript"
    done = export(table_run.run_id, "torchscript", out, tracking_uri=table_run.tracking_uri, say=quiet)
    assert done.parity <= 1e-4 and done.rows > 0
    spec = json.loads((out / "preprocessing.json").read_text())
    assert spec["inputs"]["categories"]["dtype"] == "int64" and "categories_codes" in spec["outside_graph"]
    assert spec["inputs"]["categories"]["vocabularies"]["city"] == ["east", "north", "south"]
    graph = torch.jit.load(str(out / "model.pt"))
    numbers = torch.tensor([[0.5, 100.0, 2021, 1, 5, 1, 5]], dtype=torch.float64)
    north = graph(numbers, torch.tensor([[2]]))
    unseen = graph(numbers, torch.tensor([[0]]))
    assert north.shape == (1, 2) and not torch.allclose(north, unseen)


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.categorical_encoding=embedding", "data.numeric_encoding=piecewise"],
        ["data.scale=quantile", "task.target_transform=log1p"],
        ["data.scale=minmax", "task.target_transform=standard"],
    ],
    ids=["embedding-piecewise", "quantile-log1p", "minmax"],
)
def test_table_regressions_export_every_encoding(store: Path, overrides: list[str]) -> None:
    path = store / "prices.csv"
    _table(400, 2).to_csv(path, index=False)
    trained = _train(store, "csv-regression-mlp", [f"data.path={path}", "data.target=price", "data.drop=[label]",
                                                   "trainer.max_epochs=2", *overrides])  # fmt: skip
    done = export(trained.run_id, "onnx", store / f"prices-{overrides[0]}", tracking_uri=trained.tracking_uri,
                  log_to_run=False, say=quiet)  # fmt: skip
    assert done.parity <= 1e-4 and done.rows == 80


# every architecture on the data kind it reads; (recipe, overrides, formats it exports to)
ARCHITECTURES = [
    ("digits-cnn", [], ("onnx", "torchscript")),
    ("digits-resnet", [], ("onnx", "torchscript")),
    ("digits-rows-lstm", [], ("onnx", "torchscript")),
    ("digits-rows-transformer", [], ("onnx", "torchscript")),
    ("digits-autoencoder", [], ("onnx", "torchscript")),
    ("sunspots-gru", [f"data.path={SHARED_DATA / 'monthly-sunspots.csv'}"], ("onnx", "torchscript")),
    (
        "sms-spam-transformer",
        [f"data.path={SHARED_DATA / 'sms-spam.tsv'}", "data.train_fraction=0.2"],
        ("onnx", "torchscript"),
    ),
    # bidirectional over token ids: packed by length in PyTorch, reversed within each length in the graph
    (
        "sms-spam-gru",
        [f"data.path={SHARED_DATA / 'sms-spam.tsv'}", "data.train_fraction=0.2"],
        ("onnx", "torchscript"),
    ),
]


@pytest.mark.parametrize(("recipe", "overrides", "formats"), ARCHITECTURES, ids=[a[0] for a in ARCHITECTURES])
def test_every_architecture_exports_with_parity(store: Path, recipe: str, overrides: list[str], formats: Any) -> None:
    trained = _train(store, recipe, ["trainer.max_epochs=1", *overrides])
    for fmt in formats:
        done = export(trained.run_id, fmt, store / f"{recipe}-{fmt}", tracking_uri=trained.tracking_uri,
                      log_to_run=False, say=quiet)  # fmt: skip
        assert done.parity <= 1e-4 and done.rows > 10, (recipe, fmt)


def test_a_network_onnx_cannot_express_is_refused_with_the_way_out(tmp_path: Path) -> None:
    """A forward pass that branches on its data's values has no ONNX graph: the message names the network
    and --format torchscript, and no file is left."""
    import numpy as np
    import torch

    from dlkit.serving.export_graph import ExportFailed, graph_of, write_onnx

    class Branching(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2 if float(x.sum()) > 0 else x  # read back to Python: no graph holds that

    class Task(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = Branching()

        def predict_outputs(self, x: torch.Tensor) -> torch.Tensor:
            return self.backbone(x)  # type: ignore[no-any-return]

    graph = graph_of(torch.nn.Identity(), Task())
    with pytest.raises(ExportFailed, match="the Branching network does not export") as failed:
        write_onnx(graph, {"numbers": np.ones((2, 3), dtype=np.float32)}, tmp_path / "model.onnx")
    assert "--format torchscript" in str(failed.value.hint)
    assert not (tmp_path / "model.onnx").exists()


def test_bad_requests_stop_before_any_work(table_run: Any, store: Path) -> None:
    uri = table_run.tracking_uri
    done = cli("export", table_run.run_id, "-f", "torchscript", "--quantize", "int8", "--tracking-uri", uri, cwd=store)
    assert done.returncode == 2 and "--quantize: int8 quantizes ONNX graphs" in done.stderr
    taken = store / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    done = cli("export", table_run.run_id, "-o", str(taken), "--tracking-uri", uri, cwd=store)
    assert done.returncode == 2 and "holds other files" in done.stderr
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    done = cli("export", "0" * 32, "--tracking-uri", uri, cwd=store)
    assert done.returncode == 2 and "RUN" in done.stderr


def test_quantile_and_bins_graphs_equal_numpy(tmp_path: Path) -> None:
    r = np.random.default_rng(0)
    # repeated values (a median many rows share), a skewed column and a constant one
    x = np.stack([np.round(r.normal(size=3000), 1), r.exponential(size=3000) ** 3, np.full(3000, 7.0)], 1)
    fresh = np.concatenate([x[:500], [[x[0, 0], -1e6, 7.0], [99.0, 1e9, 6.0]]]).astype(np.float32)
    scaler = fit_scaler(x.astype(np.float32), "quantile")
    module = Quantile(scaler["quantiles"])
    got = module(torch.from_numpy(fresh).double()).numpy()
    np.testing.assert_allclose(got, apply_scaler(fresh, scaler), atol=2e-6)
    # and as ONNX, where constants and bounds must keep float64 (the largest values sit at the clip bound)
    path = tmp_path / "quantile.onnx"
    torch.onnx.export(module, (torch.from_numpy(fresh[:2]).double(),), str(path), dynamo=True, input_names=["x"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},))  # fmt: skip
    (onnx_out,) = onnxruntime.InferenceSession(str(path)).run(None, {"x": fresh.astype(np.float64)})
    np.testing.assert_allclose(onnx_out, got, atol=1e-6)
    edges = fit_bins(x, 8)
    got = Piecewise(edges)(torch.from_numpy(fresh.astype(np.float64))).numpy()
    np.testing.assert_allclose(got, piecewise(fresh.astype(np.float64), edges), atol=1e-12)
