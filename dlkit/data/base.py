"""In-memory data: tensors batched by slicing shuffled indices, and the DataModule around them.

Per-sample `__getitem__` plus collate costs more than a small model's step;
slicing whole tensors costs microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
import torch

from dlkit.data.splits import holdout
from dlkit.errors import DataError


@dataclass
class DataInfo:
    """What the model and task need to know about the data, and what tracking records."""

    name: str
    source: str
    task: str
    input_shape: tuple[int, ...]
    output_dim: int
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    train_class_counts: list[int] | None = None
    target_mean: float = 0.0
    target_std: float = 1.0
    split_sizes: dict[str, int] = field(default_factory=dict)
    scaler: dict[str, Any] = field(default_factory=dict)


class _EpochShuffle:
    """Seeds each epoch's permutation from (seed, epoch): reproducible and resumable.

    Lightning calls `set_epoch` on a loader's `sampler` at the start of every epoch.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self, n: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(n, generator=gen)


class TensorBatches:
    """Batches over aligned tensors; optional shuffling and sharding across distributed ranks."""

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = _EpochShuffle(seed)
        self.batch_sampler = None  # Lightning inspects both attributes of a loader
        self.rank = rank
        self.world_size = world_size

    def _rows(self) -> int:
        n = len(self.tensors[0])
        return math.ceil(n / self.world_size) if self.world_size > 1 else n

    def __len__(self) -> int:
        rows = self._rows()
        batches = math.ceil(rows / self.batch_size)
        # a trailing batch of one sample breaks batch norm in training: it is merged away
        if self.shuffle and batches > 1 and rows % self.batch_size == 1:
            batches -= 1
        return batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        index: torch.Tensor | None = self.sampler.permutation(n) if self.shuffle else None
        if self.world_size > 1:
            # every rank gets the same number of rows (padding by wrap-around), as DistributedSampler does
            base = index if index is not None else torch.arange(n)
            per_rank = self._rows()
            padded = (
                torch.cat([base, base[: per_rank * self.world_size - n]]) if per_rank * self.world_size > n else base
            )
            index = padded[self.rank :: self.world_size]
        rows = len(index) if index is not None else n
        for b in range(len(self)):
            start = b * self.batch_size
            stop = rows if b == len(self) - 1 else start + self.batch_size
            if index is None:
                yield tuple(t[start:stop] for t in self.tensors)
            else:
                sel = index[start:stop]
                yield tuple(t.index_select(0, sel) for t in self.tensors)


class TensorDataModule(L.LightningDataModule):
    """Train/val/test tensors already split and scaled."""

    def __init__(
        self,
        splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
        index: dict[str, np.ndarray],
        info: DataInfo,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
    ) -> None:
        super().__init__()
        self.splits = splits
        self.index = index
        self.info = info
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> TensorBatches:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        return TensorBatches(
            self.splits[split], batch_size, shuffle=shuffle, seed=self.seed, rank=rank, world_size=world
        )

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> TensorBatches:
        return self._loader("test", self.eval_batch_size, shuffle=False)


def fit_scaler(x: np.ndarray, method: str) -> dict[str, Any]:
    """Scaling statistics from training rows; per channel for images, per feature for tables.

    A constant feature gets a unit scale instead of a zero one, so it can never divide by zero.
    """
    if method == "none":
        return {"method": "none"}
    axes = (0, *range(2, x.ndim)) if x.ndim >= 3 else (0,)
    keep = x.ndim >= 3  # images: one statistic per channel, shaped (C, 1, 1) to broadcast
    if method == "standard":
        shift = x.mean(axis=axes, keepdims=keep)
        scale = x.std(axis=axes, keepdims=keep)
    else:
        shift = x.min(axis=axes, keepdims=keep)
        scale = x.max(axis=axes, keepdims=keep) - shift
    if keep:
        shift, scale = shift[0], scale[0]
    constant = np.asarray(scale) == 0
    scale = np.where(constant, 1.0, scale)
    return {
        "method": method,
        "shift": np.asarray(shift, dtype=np.float64).tolist(),
        "scale": np.asarray(scale, dtype=np.float64).tolist(),
        "constant_features": int(constant.sum()),
    }


def apply_scaler(x: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    """Scale `x` with statistics from `fit_scaler`."""
    if scaler["method"] == "none":
        return x.astype(np.float32)
    return ((x - np.asarray(scaler["shift"])) / np.asarray(scaler["scale"])).astype(np.float32)


def from_arrays(
    recipe: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    name: str,
    source: str,
    class_names: list[str] | None,
    feature_names: list[str] | None = None,
) -> TensorDataModule:
    """Split, scale and wrap arrays; `y` holds class codes 0..K-1 or continuous targets."""
    data = recipe.data
    classification = recipe.task.kind == "classification"
    if not np.isfinite(x).all():
        raise DataError(f"dataset {name}: the features contain NaN or infinite values")
    train, val, test = holdout(y, data.val_fraction, data.test_fraction, data.seed, stratify=classification)
    scaler = fit_scaler(x[train], data.scale)

    def features(rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(apply_scaler(x[rows], scaler))

    if classification:
        assert class_names is not None
        counts = np.bincount(y[train], minlength=len(class_names)).tolist()
        targets = torch.from_numpy(y.astype(np.int64))
        output_dim = len(class_names)
        mean, std = 0.0, 1.0
    else:
        y = y.reshape(len(y), -1).astype(np.float32)
        counts = None
        targets = torch.from_numpy(y)
        output_dim = y.shape[1]
        mean, std = float(y[train].mean()), float(y[train].std() or 1.0)
    splits = {
        split: (features(rows), targets[torch.from_numpy(rows)])
        for split, rows in (("train", train), ("val", val), ("test", test))
    }
    info = DataInfo(
        name=name,
        source=source,
        task=recipe.task.kind,
        input_shape=tuple(x.shape[1:]),
        output_dim=output_dim,
        class_names=class_names,
        feature_names=feature_names,
        train_class_counts=counts,
        target_mean=mean,
        target_std=std,
        split_sizes={"train": len(train), "val": len(val), "test": len(test)},
        scaler=scaler,
    )
    eval_bs = data.eval_batch_size or data.batch_size * 4
    return TensorDataModule(
        splits, {"train": train, "val": val, "test": test}, info, data.batch_size, eval_bs, data.seed
    )
