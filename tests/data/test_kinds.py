"""Every data kind on real data: CSV tables, text, time series, image folders, arrays, digit rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dlkit import data
from dlkit.errors import DataError
from dlkit.recipe import load


def csv_recipe(path: Path, *extra: str) -> object:
    return load("csv-mlp", [f"data.path={path}", "data.target=cultivar", *extra])


# --- csv ---------------------------------------------------------------------------------


def test_csv_with_string_labels_categorical_and_constant_columns(wine_csv: Path) -> None:
    dm = data.build(csv_recipe(wine_csv, "data.categorical=[region]"))
    info = dm.info
    assert info.class_names == ["barbera", "barolo", "grignolino"]
    assert [n for n in info.feature_names or [] if n.startswith("region=")] == [
        "region=east",
        "region=north",
        "region=south",
    ]
    assert info.input_shape == (13 + 1 + 3,)
    assert any("batch_zero" in w for w in info.warnings)  # a constant column is named, never divides by zero
    x = torch.cat([dm.splits[s][0] for s in ("train", "val", "test")])
    assert torch.isfinite(x).all()
    onehot = dm.splits["train"][0][:, -3:]
    assert torch.equal(onehot.sum(dim=1), torch.ones(len(onehot)))  # one-hot columns are not scaled


def test_csv_scaler_and_categories_come_from_training_rows(wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    dm = data.build(csv_recipe(wine_csv, "data.categorical=[region]"))
    train = frame.iloc[dm.index["train"]]
    numeric = dm.info.preprocessing["numeric"]
    np.testing.assert_allclose(dm.info.preprocessing["scaler"]["shift"], train[numeric].mean().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        dm.info.preprocessing["scaler"]["scale"], train[numeric].std(ddof=0).replace(0, 1).to_numpy(), rtol=1e-6
    )
    assert dm.info.preprocessing["categorical"]["region"] == sorted(train["region"].unique())
    assert not set(dm.index["test"]) & set(dm.index["train"])


def test_csv_embedding_encoding(wine_csv: Path) -> None:
    dm = data.build(csv_recipe(wine_csv, "data.categorical=[region]", "data.categorical_encoding=embedding"))
    assert dm.info.categorical == [(14, 4)]  # after 14 numeric columns; 3 categories + unknown
    codes = dm.splits["train"][0][:, 14]
    assert set(codes.tolist()) <= {1.0, 2.0, 3.0}


def test_csv_without_header_uses_positions(wine_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(wine_csv).drop(columns=["region"])
    frame = frame[[c for c in frame.columns if c != "cultivar"] + ["cultivar"]]
    path = tmp_path / "noheader.csv"
    frame.to_csv(path, index=False, header=False)
    dm = data.build(load("csv-mlp", [f"data.path={path}", "data.header=false", "data.target=-1"]))
    assert dm.info.preprocessing["target"] == str(frame.shape[1] - 1)
    assert dm.info.input_shape == (frame.shape[1] - 1,)


def test_csv_missing_values_error_or_training_statistics(wine_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(wine_csv)
    frame.loc[[4, 9], "alcohol"] = np.nan
    frame.loc[7, "region"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'alcohol' has 2 missing value\(s\) \(data rows 5, 10\)"):
        data.build(csv_recipe(path, "data.categorical=[region]", "data.impute=null"))
    dm = data.build(csv_recipe(path, "data.categorical=[region]", "data.impute=mean"))
    train = frame.iloc[dm.index["train"]]
    assert dm.info.preprocessing["impute"]["alcohol"] == pytest.approx(train["alcohol"].mean())
    assert dm.info.preprocessing["impute"]["region"] == train["region"].mode().iloc[0]


def test_csv_regression_target(wine_csv: Path) -> None:
    dm = data.build(
        load(
            "csv-mlp",
            [
                f"data.path={wine_csv}",
                "data.target=alcohol",
                "data.drop=[cultivar]",
                "data.categorical=[region]",
                "task=regression",
                "trainer.monitor=val/rmse",
            ],
        )
    )
    assert dm.info.class_names is None and dm.info.output_dim == 1


def test_csv_split_column(wine_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(wine_csv)
    frame["part"] = np.where(
        np.arange(len(frame)) % 5 == 0, "test", np.where(np.arange(len(frame)) % 5 == 1, "val", "train")
    )
    path = tmp_path / "parts.csv"
    frame.to_csv(path, index=False)
    dm = data.build(csv_recipe(path, "data.categorical=[region]", "data.split_column=part"))
    assert np.array_equal(dm.index["test"], np.flatnonzero(frame["part"] == "test"))
    assert "part" not in (dm.info.feature_names or [])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["data.target=cultivr"], "data.target: no column 'cultivr'; did you mean 'cultivar'?"),
        (["data.categorical=[]"], "column 'region' is not numeric (e.g. "),
        (["data.categorical=[regio]"], "data.categorical: no column 'regio'"),
        (["data.target=7"], "data.target: the target holds 39 distinct fractional numbers (e.g. 0.28), not classes"),
        (["data.target=99"], "data.target: column position 99 is out of range"),
    ],
)
def test_csv_column_errors(wine_csv: Path, extra: list[str], message: str) -> None:
    with pytest.raises(DataError) as info:
        data.build(
            csv_recipe(wine_csv, *extra)
            if "data.target=cultivr" not in extra
            else load("csv-mlp", [f"data.path={wine_csv}", *extra])
        )
    assert message in str(info.value)


def test_single_class_and_rare_classes_are_refused(wine_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(wine_csv).drop(columns=["region"])
    frame["cultivar"] = "barolo"
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="single class"):
        data.build(csv_recipe(path))
    frame.loc[0, "cultivar"] = "rare"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="class 'rare' has 1 sample"):
        data.build(csv_recipe(path))


# --- text --------------------------------------------------------------------------------


def test_text_vocabulary_is_built_on_training_texts_only(sms_path: Path) -> None:
    from dlkit.data.text import tokenize

    dm = data.build(load("sms-spam-lstm", [f"data.path={sms_path}", "data.min_freq=1"]))
    info = dm.info
    assert info.input_kind == "tokens" and info.class_names == ["ham", "spam"]
    frame = pd.read_csv(sms_path, sep="\t", quoting=3)
    train_words = {w for t in frame["SMS"].iloc[dm.index["train"]] for w in tokenize(str(t), "word", True)}
    vocab = info.preprocessing["vocab"]
    assert vocab[:2] == ["<pad>", "<unk>"]
    assert set(vocab[2:]) == train_words
    ids = dm.splits["test"][0]
    assert ids.shape[1] == 64 and (ids == 1).any()  # test words unseen in training are out of vocabulary
    assert info.split_sizes == {"train": 3901, "val": 558, "test": 1115}
    assert info.train_class_counts == [3378, 523]  # stratified: 13 % spam in every split


def test_text_truncates_and_pads(sms_path: Path) -> None:
    dm = data.build(load("sms-spam-lstm", [f"data.path={sms_path}", "data.max_length=5", "data.tokenizer=char"]))
    ids = dm.splits["train"][0]
    assert ids.shape[1] == 5 and (ids[:, -1] > 0).float().mean() > 0.95
    assert any("truncated" in w for w in dm.info.warnings)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.tsv"
    path.write_bytes("Label\tSMS\nham\tcaf\xe9 ok\nspam\twin\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"is not valid utf-8 text \(line 2, byte 17\)"):
        data.build(load("sms-spam-lstm", [f"data.path={path}"]))


# --- time series -------------------------------------------------------------------------


def test_timeseries_windows_follow_training_windows_and_scaler_uses_training_period(sunspots_path: Path) -> None:
    dm = data.build(load("sunspots-gru", [f"data.path={sunspots_path}"]))
    info = dm.info
    assert info.input_kind == "sequence" and info.input_shape == (24, 1)
    first_target = {s: dm.index[s] + 24 for s in ("train", "val", "test")}
    assert first_target["train"].max() + 1 <= first_target["val"].min()
    assert first_target["val"].max() + 1 <= first_target["test"].min()
    series = pd.read_csv(sunspots_path)["Sunspots"].to_numpy()
    train_stop = len(series) - round(len(series) * 0.2) - round(len(series) * 0.1)
    assert first_target["train"].max() < train_stop  # no training target in the validation period
    assert info.preprocessing["scaler"]["shift"][0] == pytest.approx(series[:train_stop].mean())
    _, y = dm.splits["test"]
    row = int(dm.index["test"][0])
    np.testing.assert_allclose(y[0].numpy(), series[row + 24 : row + 25], rtol=1e-6)
    assert info.target_mean == pytest.approx([series[:train_stop].mean()])


def test_timeseries_gaps_are_named_or_filled(sunspots_path: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sunspots_path).drop(index=[100, 101, 500])
    path = tmp_path / "gappy.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"3 missing timestamp\(s\), first 1757-05-01, 1757-06-01, 1790-09-01"):
        data.build(load("sunspots-gru", [f"data.path={path}"]))
    dm = data.build(load("sunspots-gru", [f"data.path={path}", "data.impute=interpolate"]))
    assert sum(dm.info.split_sizes.values()) == 2820 - 24


def test_window_longer_than_the_series(sunspots_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    pd.read_csv(sunspots_path).head(20).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"data.window 24 \+ data.horizon 1 is longer than the series \(20 steps\)"):
        data.build(load("sunspots-gru", [f"data.path={path}"]))
    pd.read_csv(sunspots_path).head(30).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"does not fit in the training period \(21 steps\)"):
        data.build(load("sunspots-gru", [f"data.path={path}"]))


def test_multistep_horizon(sunspots_path: Path) -> None:
    dm = data.build(load("sunspots-gru", [f"data.path={sunspots_path}", "data.horizon=3", "data.window=12"]))
    assert dm.info.output_dim == 3 and dm.splits["train"][1].shape[1] == 3


def test_a_share_of_the_training_split_keeps_a_series_latest_windows_and_a_tables_classes(
    sunspots_path: Path, wine_csv: Path
) -> None:
    whole = data.build(load("sunspots-gru", [f"data.path={sunspots_path}"]))
    share = data.build(load("sunspots-gru", [f"data.path={sunspots_path}", "data.train_fraction=0.25"]))
    train = whole.index["train"]
    np.testing.assert_array_equal(share.index["train"], train[-round(len(train) * 0.25) :])
    for split in ("val", "test"):
        np.testing.assert_array_equal(share.index[split], whole.index[split])
    # the scaler still comes from the whole training period: the share changes what is trained on only
    assert share.info.preprocessing["scaler"] == whole.info.preprocessing["scaler"]

    table, subset = data.build(csv_recipe(wine_csv)), data.build(csv_recipe(wine_csv, "data.train_fraction=0.5"))
    assert len(subset.index["train"]) == round(len(table.index["train"]) * 0.5)
    assert set(subset.index["train"]) < set(table.index["train"])
    assert set(subset.info.class_names) == set(table.info.class_names)
    np.testing.assert_array_equal(subset.index["test"], table.index["test"])


# --- images ------------------------------------------------------------------------------


def image_recipe(folder: Path, *extra: str) -> object:
    return load(
        "digits-cnn", ["data={kind: images, path: " + str(folder) + ", channels: 1}", "data.batch_size=32", *extra]
    )


def test_image_folder_decodes_and_normalises_with_training_images(digits_folder: Path) -> None:
    dm = data.build(image_recipe(digits_folder))
    info = dm.info
    assert info.class_names == [f"digit_{d}" for d in range(10)]
    assert info.input_shape == (1, 8, 8) and sum(info.split_sizes.values()) == 400
    x = dm.splits["train"][0]
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 0.01


def test_image_augmentation_touches_training_batches_only(digits_folder: Path) -> None:
    dm = data.build(image_recipe(digits_folder, "data.augment={shift: 1, flip: true, rotate: 10, noise: 0.1}"))
    assert dm.augment is not None
    x = dm.splits["train"][0][:16]
    out = dm.augment(x)
    assert out.shape == x.shape and not torch.equal(out, x)

    class FakeTrainer:
        training = False

    dm.trainer = FakeTrainer()  # type: ignore[assignment]
    batch = (x, torch.zeros(16))
    assert dm.on_after_batch_transfer(batch, 0)[0] is x
    FakeTrainer.training = True
    assert not torch.equal(dm.on_after_batch_transfer(batch, 0)[0], x)


def test_image_that_cannot_be_decoded_is_named(digits_folder: Path) -> None:
    broken = digits_folder / "digit_3" / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(DataError, match=f"image {broken} cannot be decoded"):
        data.build(image_recipe(digits_folder))


def test_image_resize_and_colour(digits_folder: Path) -> None:
    dm = data.build(image_recipe(digits_folder, "data.image_size=[12,10]", "data.channels=3"))
    assert dm.info.input_shape == (3, 12, 10)


# --- arrays and digit rows ---------------------------------------------------------------


def test_arrays_with_and_without_a_fixed_test_split(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.npz"
    np.savez(path, X=x[:120], y=y[:120], X_test=x[120:], y_test=y[120:])
    recipe = load("iris-mlp", ["data={kind: arrays, path: " + str(path) + "}"])
    dm = data.build(recipe)
    assert np.array_equal(dm.index["test"], np.arange(120, 150))
    np.savez(path, X=x, y=y)
    dm = data.build(recipe)
    assert dm.info.split_sizes["test"] == 30 and dm.info.class_names == ["0", "1", "2"]
    np.savez(path, features=x)
    with pytest.raises(DataError, match="has no array 'X'"):
        data.build(recipe)


def test_digits_rows_are_sequences() -> None:
    recipe = load("digits-mlp", ["data.name=digits_rows", "model={arch: lstm}"])
    dm = data.build(recipe)
    assert dm.info.input_kind == "sequence" and dm.info.input_shape == (8, 8)


def test_large_image_folders_stream_with_the_same_statistics(
    digits_folder: Path, workdir: Path, tracking_uri: str
) -> None:
    from dlkit.data.images import StreamingImageModule
    from dlkit.training import run

    in_memory = data.build(image_recipe(digits_folder, "data.image_size=64"))
    streamed = data.build(image_recipe(digits_folder, "data.image_size=64", "data.memory_budget_mb=1"))
    assert isinstance(streamed, StreamingImageModule)
    for key in ("shift", "scale"):
        np.testing.assert_allclose(
            streamed.info.preprocessing["scaler"][key], in_memory.info.preprocessing["scaler"][key], rtol=1e-5
        )
    x, labels = next(iter(streamed.test_dataloader()))
    assert torch.equal(labels, in_memory.splits["test"][1][: len(x)])
    rows = in_memory.index["test"][: len(x)]
    torch.testing.assert_close(x, in_memory.splits["test"][0][: len(x)], rtol=1e-5, atol=1e-5)
    assert np.array_equal(streamed.index["test"][: len(x)], rows)
    # 400 images of 32x32 decode to 1.6 MiB: over the budget, so the run itself streams
    recipe = image_recipe(
        digits_folder, "data.image_size=32", "data.memory_budget_mb=1", "data.num_workers=1", "trainer.max_epochs=1"
    )
    assert isinstance(data.build(recipe), StreamingImageModule)
    result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    assert "test/acc" in result.test_metrics
    from mlflow import MlflowClient

    inputs = MlflowClient(tracking_uri).get_run(result.run_id).inputs.dataset_inputs
    logged = {t.value: i.dataset for i in inputs for t in i.tags if t.key == "dlkit.split"}
    assert set(logged) == {"train", "val", "test"}
    assert "file" in logged["test"].schema  # the split's files, not decoded pixels
