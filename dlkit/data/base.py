"""The DataModules: every kind's common interface, and the in-memory one most kinds build with `build_module`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import lightning as L
import numpy as np
import torch

from dlkit.data.batches import StepGroup, TensorBatches
from dlkit.data.info import DataInfo
from dlkit.data.scaling import apply_scaler, fit_scaler
from dlkit.errors import DataError
from dlkit.recipe.schema import Recipe


class SplitDataModule(L.LightningDataModule):
    """What every data module offers: the DataInfo, each split's row indices, augmentation of training batches."""

    info: DataInfo
    index: dict[str, np.ndarray]
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    #: task.report_by: each column's group per row (positions as in `index`), read before any imputation
    groups: Mapping[str, np.ndarray] = MappingProxyType({})
    #: recommendation: the side columns of users and items (data.ratings.Interactions)
    interactions: Any = None

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


def _without_classes(
    splits: dict[str, np.ndarray], y: np.ndarray, names: list[str], class_names: list[str] | None
) -> dict[str, np.ndarray]:
    """Training and validation splits without the given classes (e.g. normal-only training for anomaly detection)."""
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
    owned: bool = False,
) -> TensorDataModule:
    """Scale with training statistics and wrap arrays already split into `splits` (row indices).

    `y` holds class codes 0..K-1 (classification) or continuous targets. `scale_columns`
    limits scaling to some columns of a table (the others, embedded category codes, stay as they are).
    `owned`: `x` is the caller's to give away, scaled in place instead of copied.
    """
    data = recipe.data
    classification = info.class_names is not None
    excluded = recipe.task.excluded_from_training
    if excluded:
        splits = _without_classes(splits, y, excluded, info.class_names)
    train = splits["train"]
    if scale:
        scaler = fit_scaler(x[np.ix_(train, scale_columns)] if scale_columns is not None else x[train], data.scale)
        x = x.astype(np.float32, copy=not owned)
        if scale_columns is None:
            x = apply_scaler(x, scaler)
        elif len(scale_columns):
            x[:, scale_columns] = apply_scaler(x[:, scale_columns], scaler)
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
        if not info.target_features and not info.targets:  # several targets: each scaled by the task
            fitted = y[train]
            if recipe.task.target_scaling == "log1p":
                if y.min() <= -1:
                    raise DataError(
                        f"task.target_transform: log1p needs targets above -1; the data has {float(y.min()):g}",
                        hint="use target_transform: standard",
                    )
                fitted = np.log1p(fitted)
            info.target_mean = float(fitted.mean())
            info.target_std = float(fitted.std() or 1.0)
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
