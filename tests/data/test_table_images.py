"""A table's image columns (data.images) read beside its numbers: scikit-learn's digits written as PNG
files with a numeric side column, trained, inferred, predicted from another folder, explained and
exported, on real runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from dlkit.data.infer import draft
from dlkit.serving.explain import explain
from dlkit.serving.export import export
from tests.conftest import cli, train_in
from tests.contract.harness import run_states


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digits.csv: a PNG path, a side number and the target, which needs both: whether the digit is 5 or
    more differs from whether the side number is positive (either input alone is a coin toss)."""
    folder = tmp_path_factory.mktemp("table-images")
    (folder / "png").mkdir()
    digits = load_digits()
    r = np.random.default_rng(0)
    rows = []
    for i, (image, digit) in enumerate(zip(digits.images, digits.target, strict=True)):
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / "png" / f"{i}.png")
        side = float(r.normal())
        rows.append({"photo": f"png/{i}.png", "side": side, "y": "yes" if (digit >= 5) != (side > 0) else "no"})
    pd.DataFrame(rows).to_csv(folder / "digits.csv", index=False)
    return folder


def _train(store: Path, *overrides: str) -> Any:
    base = [f"data.path={store / 'digits.csv'}", "data.target=y", "trainer.max_epochs=15",
            "data.image_encoder.size=8", "data.image_encoder.color=gray"]  # fmt: skip
    return train_in(store, "csv-mlp", [*base, *overrides])


@pytest.fixture(scope="module")
def mixed(store: Path) -> Any:
    return _train(store, "data.images=[photo]")


def test_the_image_and_the_number_together_beat_each_alone(store: Path, mixed: Any) -> None:
    photo = _train(store, "data.images=[photo]", "data.features=[photo]").test_metrics["test/acc"]
    side = _train(store, "data.features=[side]").test_metrics["test/acc"]
    assert mixed.test_metrics["test/acc"] >= 0.85 > 0.65 >= max(photo, side), (mixed.test_metrics, photo, side)


def test_the_resnet_encoder_reads_the_images_as_well(store: Path) -> None:
    done = _train(store, "data.images=[photo]", "data.image_encoder.encoder=resnet")
    assert done.test_metrics["test/acc"] >= 0.85, done.test_metrics
    exported = export(done.run_id, "onnx", store / "resnet-onnx", tracking_uri=done.tracking_uri, log_to_run=False,
                      say=quiet)  # fmt: skip
    assert exported.parity <= 1e-4


def test_predict_explain_and_export_read_the_paths_of_the_file_given(store: Path, mixed: Any) -> None:
    elsewhere = store / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "png").mkdir()
    fresh = pd.read_csv(store / "digits.csv").head(24).drop(columns=["y"])
    for name in fresh["photo"]:  # the new table's images sit beside it, not beside the training file
        (elsewhere / name).write_bytes((store / name).read_bytes())
    fresh.loc[3, "photo"] = None  # a missing image reads as a blank one
    fresh.to_csv(elsewhere / "new.csv", index=False)
    out = store / "predicted.csv"
    done = cli("predict", mixed.run_id, "-i", str(elsewhere / "new.csv"), "-o", str(out),
                   "--tracking-uri", mixed.tracking_uri, cwd=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == 24

    explained = explain(mixed.run_id, elsewhere / "new.csv", output=store / "explain", tracking_uri=mixed.tracking_uri,
                        say=quiet)  # fmt: skip
    table = pd.read_csv(store / "explain" / "integrated_gradients.csv").set_index("feature")
    assert set(table.index) == {"photo (image)", "side"}  # the pixels summed into their column
    assert (store / "explain" / "integrated_gradients-photo.png") in explained.files

    for fmt in ("onnx", "torchscript"):
        exported = export(mixed.run_id, fmt, store / f"export-{fmt}", tracking_uri=mixed.tracking_uri,
                          log_to_run=False, say=quiet)  # fmt: skip
        assert exported.parity <= 1e-4
        spec = json.loads((exported.folder / "preprocessing.json").read_text())
        assert spec["inputs"]["images"]["shape"] == ["batch", 64] and spec["outside_graph"]["images"]["photo"]


def test_a_path_to_nothing_is_refused_before_a_run_exists(store: Path) -> None:
    frame = pd.read_csv(store / "digits.csv").head(200)
    frame.loc[7, "photo"] = "png/none.png"
    folder = store / "broken"
    folder.mkdir()
    frame.assign(photo=["../" + p if isinstance(p, str) else p for p in frame["photo"]]).to_csv(
        folder / "t.csv", index=False
    )
    done = cli("train", "csv-mlp", f"data.path={folder / 't.csv'}", "data.target=y", "data.images=[photo]",
                   cwd=folder)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "data.images: column 'photo' names '../png/none.png' in data row 8" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2
    assert not [s for s in run_states(folder) if s in ("RUNNING", "FAILED")]


def test_images_too_large_for_memory_are_refused_before_decoding(store: Path) -> None:
    done = cli("train", "csv-mlp", f"data.path={store / 'digits.csv'}", "data.target=y", "data.images=[photo]",
                   "data.image_encoder.size=512", cwd=store)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "data.image_encoder.size 512: the images of 1797 rows take about 15.8 GB" in done.stderr


def test_a_column_of_image_paths_is_inferred_as_images(store: Path) -> None:
    found = draft(str(store / "digits.csv"), "y")
    data = found.recipe["data"]
    assert data["images"] == ["photo"] and "photo" not in data["drop"]
    assert data["image_encoder"] == {"size": 8, "color": "gray"}
    assert any("1 image" in line for line in found.summary)


def test_only_the_mlp_reads_image_columns(store: Path) -> None:
    done = cli("train", "csv-mlp", f"data.path={store / 'digits.csv'}", "data.target=y", "data.images=[photo]",
                   "model.arch=autoencoder", "task.kind=regression", cwd=store)  # fmt: skip
    assert done.returncode == 2
    assert "data.images: needs model.arch: mlp" in done.stderr
