"""Built-in datasets: leak-free seeded splits, scaling from training rows, in-memory batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlkit import data
from dlkit.data.batches import TensorBatches
from dlkit.data.builtin import load_arrays
from dlkit.data.scaling import apply_scaler, fit_scaler
from dlkit.errors import DataError
from dlkit.recipe import load


@pytest.mark.parametrize(
    ("recipe", "shape", "classes"),
    [("digits-cnn", (1, 8, 8), 10), ("breast-cancer-mlp", (30,), 2), ("wine-mlp", (13,), 3), ("iris-mlp", (4,), 3)],
)
def test_builtin_classification_datasets(recipe: str, shape: tuple[int, ...], classes: int) -> None:
    dm = data.build(load(recipe))
    info = dm.info
    assert info.input_shape == shape
    assert info.output_dim == classes and len(info.class_names or []) == classes
    sizes = info.split_sizes
    total = sum(sizes.values())
    assert sizes["test"] == pytest.approx(total * 0.2, abs=2)
    train, val, test = (set(dm.index[s].tolist()) for s in ("train", "val", "test"))
    assert not train & val and not train & test and not val & test
    assert len(train | val | test) == total


def test_splits_are_seeded_and_stratified() -> None:
    a, b = data.build(load("digits-mlp")), data.build(load("digits-mlp"))
    assert all(np.array_equal(a.index[s], b.index[s]) for s in ("train", "val", "test"))
    c = data.build(load("digits-mlp", ["data.seed=1"]))
    assert not np.array_equal(a.index["test"], c.index["test"])
    _, y, _, _ = load_arrays("digits")
    overall = np.bincount(y) / len(y)
    test_share = np.bincount(y[a.index["test"]], minlength=10) / len(a.index["test"])
    assert np.abs(test_share - overall).max() < 0.02


def test_scaling_uses_training_rows_only() -> None:
    dm = data.build(load("breast-cancer-mlp"))
    x, _, _, _ = load_arrays("breast_cancer")
    train_rows = x[dm.index["train"]]
    np.testing.assert_allclose(dm.info.preprocessing["scaler"]["shift"], train_rows.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dm.info.preprocessing["scaler"]["scale"], train_rows.std(axis=0), rtol=1e-4)
    scaled_train = dm.splits["train"][0].numpy()
    np.testing.assert_allclose(scaled_train.mean(axis=0), 0, atol=1e-4)
    assert np.abs(dm.splits["test"][0].numpy().mean(axis=0)).max() > 1e-3  # test rows were not used to fit


def test_images_are_scaled_per_channel() -> None:
    dm = data.build(load("digits-cnn"))
    assert np.asarray(dm.info.preprocessing["scaler"]["shift"]).shape == (1, 1, 1)


def test_constant_features_never_divide_by_zero() -> None:
    x = np.column_stack([np.zeros(20), np.arange(20.0)])
    for method in ("standard", "minmax", "quantile"):
        scaler = fit_scaler(x, method)
        assert scaler["constant"] == [0]
        assert np.isfinite(apply_scaler(x, scaler)).all()


def test_quantile_scaling_spreads_a_skewed_feature_and_keeps_binary_levels() -> None:
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data  # 'area error' is skewed: a few tumours have ten times the median
    skewed = x[:, [13]]
    scaled = apply_scaler(skewed, fit_scaler(skewed, "quantile"))[:, 0]
    assert abs(np.median(scaled)) < 0.05 and 0.8 < scaled.std() < 1.3 and np.abs(scaled).max() < 5.3
    binary = (x[:, [0]] > 15).astype(float)
    levels = np.unique(apply_scaler(binary, fit_scaler(binary, "quantile")))
    assert len(levels) == 2 and levels[0] < levels[1]
    with pytest.raises(DataError, match="quantile scales table columns"):
        fit_scaler(np.zeros((4, 1, 8, 8)), "quantile")


def test_piecewise_encoding_is_monotone_and_saturates() -> None:
    from sklearn.datasets import load_diabetes

    from dlkit.data.scaling import fit_bins, piecewise

    x = load_diabetes().data[:, [2]]  # body mass index
    edges = fit_bins(x, 8)
    encoded = piecewise(np.sort(x, axis=0), edges)
    assert encoded.shape == (len(x), 8) and encoded.min() == 0.0 and encoded.max() == 1.0
    assert (np.diff(encoded.sum(axis=1)) >= 0).all()  # larger values never encode smaller
    outside = piecewise(np.asarray([[x.min() - 1.0], [x.max() + 1.0]]), edges)
    assert outside.tolist() == [[0.0] * 8, [1.0] * 8]


def test_regression_dataset() -> None:
    dm = data.build(load("diabetes-mlp"))
    y = dm.splits["train"][1]
    assert dm.info.class_names is None and dm.info.output_dim == 1
    assert dm.info.target_mean == pytest.approx(float(y.mean()), rel=1e-5)


def test_task_must_match_the_dataset() -> None:
    with pytest.raises(DataError, match="diabetes is a regression dataset"):
        data.build(load("diabetes-mlp", ["task=classification"]))
    with pytest.raises(DataError, match="iris is a classification dataset"):
        data.build(load("iris-mlp", ["task=regression", "trainer.monitor=val/loss"]))


def test_tensor_batches_cover_every_row_once_per_epoch_and_reshuffle() -> None:
    x = torch.arange(100).float().unsqueeze(1)
    y = torch.arange(100)
    loader = TensorBatches((x, y), 32, shuffle=True, seed=3)
    epoch0 = torch.cat([b[1] for b in loader])
    assert sorted(epoch0.tolist()) == list(range(100))
    assert len(loader) == 4 and len(list(loader)) == 4
    loader.sampler.set_epoch(1)
    epoch1 = torch.cat([b[1] for b in loader])
    assert not torch.equal(epoch0, epoch1)
    loader.sampler.set_epoch(0)
    assert torch.equal(torch.cat([b[1] for b in loader]), epoch0)  # resumable: the same epoch, the same order
    for bx, by in loader:
        assert torch.equal(bx[:, 0].long(), by)  # features and targets stay aligned


def test_tensor_batches_merge_a_trailing_single_sample() -> None:
    x = torch.zeros(65, 2)
    loader = TensorBatches((x,), 32, shuffle=True)
    sizes = [len(b[0]) for b in loader]
    assert sizes == [32, 33]


def test_tensor_batches_shard_evenly_across_ranks() -> None:
    y = torch.arange(10)
    shards = [torch.cat([b[0] for b in TensorBatches((y,), 2, shuffle=False, rank=r, world_size=3)]) for r in range(3)]
    assert {len(s) for s in shards} == {4}
    assert set(torch.cat(shards).tolist()) == set(range(10))
