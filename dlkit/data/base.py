"""In-memory data: tensors batched by slicing shuffled indices, and the DataModule around them.

Per-sample `__getitem__` plus collate costs more than a small model's step;
slicing whole tensors costs microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import numpy as np
import torch

from dlkit.data.info import DataInfo
from dlkit.errors import DataError
from dlkit.recipe.schema import Recipe

__all__ = [
    "DataInfo",
    "SplitDataModule",
    "StepGroup",
    "TensorBatches",
    "TensorDataModule",
    "apply_scaler",
    "build_module",
    "fit_scaler",
]


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


class StepGroup(tuple):  # type: ignore[type-arg]
    """Consecutive training batches that one Lightning step runs as that many optimisation steps.

    Lightning spends about 0.3 ms of hook dispatch on every training step; a group of
    `trainer.steps_per_call` batches pays it once. The batches, their order and the optimiser
    steps are exactly those of one batch per call.
    """


class TensorBatches:
    """Batches over aligned tensors; optional shuffling, sharding across distributed ranks, and
    grouping of consecutive batches (StepGroup) for the training split."""

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        group: int = 1,
    ) -> None:
        self.tensors = tensors
        self.group = group
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
        """Items per epoch: batches, or groups of `group` batches."""
        return math.ceil(self.steps_per_epoch() / self.group)

    def steps_per_epoch(self) -> int:
        """Batches (optimisation steps, for the training split) per epoch."""
        rows = self._rows()
        batches = math.ceil(rows / self.batch_size)
        # a trailing batch of one sample breaks batch norm in training: it is merged away
        if self.shuffle and batches > 1 and rows % self.batch_size == 1:
            batches -= 1
        return batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.group == 1:
            yield from self._batches()
            return
        pending: list[tuple[torch.Tensor, ...]] = []
        for batch in self._batches():
            pending.append(batch)
            if len(pending) == self.group:
                yield StepGroup(pending)
                pending = []
        if pending:
            yield StepGroup(pending)

    def _batches(self) -> Iterator[tuple[torch.Tensor, ...]]:
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
        if index is not None and self.tensors[0].device.type != "cpu":
            index = index.to(self.tensors[0].device)  # once per epoch, not once per batch
        rows = len(index) if index is not None else n
        count = self.steps_per_epoch()
        for b in range(count):
            start = b * self.batch_size
            stop = rows if b == count - 1 else start + self.batch_size
            if index is None:
                yield tuple(t[start:stop] for t in self.tensors)
            else:
                sel = index[start:stop]
                yield tuple(t.index_select(0, sel) for t in self.tensors)


class SplitDataModule(L.LightningDataModule):
    """What every data module offers: the DataInfo, each split's row indices, augmentation of training batches."""

    info: DataInfo
    index: dict[str, np.ndarray]
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, StepGroup):
            return StepGroup(self.on_after_batch_transfer(b, dataloader_idx) for b in batch)
        trainer = self.trainer
        if self.augment is not None and trainer is not None and trainer.training:
            x, *rest = batch
            return (self.augment(x), *rest)
        return batch

    def logged_splits(self) -> dict[str, tuple[Any, np.ndarray]]:
        """split -> (features as an array or a table, targets), for `mlflow.log_input`."""
        raise NotImplementedError


class TensorDataModule(SplitDataModule):
    """Train/val/test tensors already split and preprocessed; optional augmentation of training batches."""

    def __init__(
        self,
        splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
        index: dict[str, np.ndarray],
        info: DataInfo,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.splits = splits
        self.index = index
        self.info = info
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.augment = augment

    #: data.on_device, trainer.channels_last and trainer.steps_per_call, set by the runner
    on_device: bool | None = None
    channels_last: bool = False
    step_group: int = 1

    def _placed(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's tensors, moved to the GPU once when they are to stay there."""
        tensors = self.splits[split]
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        if device.type != "cuda" or self.on_device is False or tensors[0].device == device:
            return tensors
        if self.on_device is None:
            free, _ = torch.cuda.mem_get_info(device)
            size = sum(t.element_size() * t.nelement() for pair in self.splits.values() for t in pair)
            if size > free / 4:
                return tensors
        x, y = tensors
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        placed = (x.to(device, non_blocking=True), y.to(device, non_blocking=True))
        self.splits[split] = placed
        return placed

    def _loader(self, split: str, batch_size: int, shuffle: bool, group: int = 1) -> TensorBatches:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        return TensorBatches(
            self._placed(split), batch_size, shuffle=shuffle, seed=self.seed, rank=rank, world_size=world, group=group
        )

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", self.batch_size, shuffle=True, group=self.step_group)

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> TensorBatches:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    def logged_splits(self) -> dict[str, tuple[Any, np.ndarray]]:
        return {split: (x.numpy(), y.numpy()) for split, (x, y) in self.splits.items()}


def fit_scaler(x: np.ndarray, method: str) -> dict[str, Any]:
    """Scaling statistics from training rows; per channel for images, per feature otherwise.

    A constant feature gets a unit scale instead of a zero one, so it can never divide by zero.
    """
    if method == "none":
        return {"method": "none"}
    if x.ndim >= 3:  # images (N, C, H, W): one statistic per channel, shaped (C, 1, 1) to broadcast
        axes: tuple[int, ...] = (0, *range(2, x.ndim))
    else:
        axes = (0,)
    keep = x.ndim >= 3
    with np.errstate(invalid="ignore"):
        if method == "standard":
            shift = x.mean(axis=axes, keepdims=keep, dtype=np.float64)
            scale = x.std(axis=axes, keepdims=keep, dtype=np.float64)
        else:
            shift = x.min(axis=axes, keepdims=keep).astype(np.float64)
            scale = x.max(axis=axes, keepdims=keep) - shift
    if keep:
        shift, scale = shift[0], scale[0]
    constant = np.asarray(scale) == 0
    scale = np.where(constant, 1.0, scale)
    return {
        "method": method,
        "shift": np.asarray(shift, dtype=np.float64).tolist(),
        "scale": np.asarray(scale, dtype=np.float64).tolist(),
        "constant": np.flatnonzero(constant).tolist(),
    }


def apply_scaler(x: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    """Scale `x` with statistics from `fit_scaler`."""
    if scaler["method"] == "none":
        return x.astype(np.float32)
    return ((x - np.asarray(scaler["shift"])) / np.asarray(scaler["scale"])).astype(np.float32)


def check_finite(x: np.ndarray, what: str) -> None:
    """Refuse NaN or infinite inputs, naming where the first one is."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"{what}: NaN or infinite value at row {bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else ""),
            hint="clean the data or set data.impute",
        )


def _without_classes(
    splits: dict[str, np.ndarray], y: np.ndarray, names: list[str], class_names: list[str] | None
) -> dict[str, np.ndarray]:
    """Training and validation splits without the given classes (normal-only training for anomaly detection)."""
    known = class_names or []
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"task.anomaly_classes: no class '{unknown[0]}'; classes: {', '.join(known)}")
    codes = np.asarray([known.index(n) for n in names])
    out = dict(splits)
    for split in ("train", "val"):
        out[split] = splits[split][~np.isin(y[splits[split]], codes)]
    return out


def build_module(
    recipe: Recipe,
    x: np.ndarray,
    y: np.ndarray,
    splits: dict[str, np.ndarray],
    info: DataInfo,
    *,
    scale: bool = True,
    scale_columns: np.ndarray | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> TensorDataModule:
    """Scale with training statistics and wrap arrays already split into `splits` (row indices).

    `y` holds class codes 0..K-1 (classification) or continuous targets. `scale_columns`
    limits scaling to some columns of a table (the others, embedded category codes, stay as they are).
    """
    data = recipe.data
    classification = info.class_names is not None
    anomalies = getattr(recipe.task, "anomaly_classes", [])
    if anomalies:
        splits = _without_classes(splits, y, anomalies, info.class_names)
    train = splits["train"]
    if scale:
        columns = scale_columns if scale_columns is not None else slice(None)
        scaler = fit_scaler(x[train][:, columns] if scale_columns is not None else x[train], data.scale)
        x = x.astype(np.float32, copy=True)
        if scale_columns is not None:
            x[:, columns] = apply_scaler(x[:, columns], scaler)
        else:
            x = apply_scaler(x, scaler)
        info.preprocessing["scaler"] = scaler
        names = info.feature_names or []
        constant = [names[i] if i < len(names) else str(i) for i in scaler.get("constant", [])]
        if constant and x.ndim == 2:
            info.warnings.append(
                f"{len(constant)} constant feature(s) in the training split (kept, scaled by 1): "
                + ", ".join(constant[:10])
                + (" ..." if len(constant) > 10 else "")
            )
    features = torch.from_numpy(np.ascontiguousarray(x))
    if classification:
        assert info.class_names is not None
        info.train_class_counts = np.bincount(y[train], minlength=len(info.class_names)).tolist()
        targets = torch.from_numpy(y.astype(np.int64))
        info.output_dim = len(info.class_names)
    else:
        y = y.reshape(len(y), -1).astype(np.float32)
        targets = torch.from_numpy(y)
        if not info.output_dim:
            info.output_dim = y.shape[1]
        if not info.target_features:
            info.target_mean = float(y[train].mean())
            info.target_std = float(y[train].std() or 1.0)
    tensors = {s: (features[torch.from_numpy(rows)], targets[torch.from_numpy(rows)]) for s, rows in splits.items()}
    info.split_sizes = {s: len(rows) for s, rows in splits.items()}
    empty = [s for s, n in info.split_sizes.items() if n == 0]
    if empty:
        raise DataError(
            f"the {', '.join(empty)} split is empty", hint="use more data or change data.val_fraction/test_fraction"
        )
    info.input_shape = tuple(x.shape[1:])
    eval_bs = data.eval_batch_size or data.batch_size * 4
    return TensorDataModule(tensors, splits, info, data.batch_size, eval_bs, data.seed, augment)
