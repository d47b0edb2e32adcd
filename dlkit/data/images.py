"""Image folders: one subfolder per class, decoded with Pillow, normalised with training statistics.

Augmentation (shift, flip, rotation, noise) is written with torch ops and runs on
training batches only, on the device the batch is on.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from dlkit.data.base import SplitDataModule, build_module
from dlkit.data.files import EXTENSIONS, existing, files_to_read, folder_labels, image_error, image_errors, list_images
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs
from dlkit.data.scaling import apply_scaler
from dlkit.data.splits import assign
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import ImageFolderData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section


def decode(path: Path, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1]."""
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = opened.convert("L" if channels == 1 else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except image_errors() as e:  # UnidentifiedImageError is an OSError
        raise image_error(path, e) from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def augmenter(params: Any) -> Any:
    """A function that randomly shifts, flips, rotates and adds noise to a batch (N, C, H, W)."""
    if params is None:
        return None

    def augment(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if params.rotate or params.shift:
            angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(params.rotate)
            h, w = x.shape[-2:]
            shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * params.shift
            theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
            theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle), -torch.sin(angle)
            theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle), torch.cos(angle)
            theta[:, 0, 2] = shift[:, 0] * 2 / w
            theta[:, 1, 2] = shift[:, 1] * 2 / h
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if params.flip:
            flip = torch.rand(n, device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if params.noise:
            x = x + torch.randn_like(x) * params.noise
        return x

    return augment


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> SplitDataModule:
    """The DataModule of an image folder."""
    p = section(recipe.data, ImageFolderData)
    if not recipe.task.labelled:
        raise DataError(f"data.kind images has class labels: task {recipe.task.kind} does not fit it")
    folder = existing(p.path, folder=True)
    files, y, classes = list_images(folder)
    size: tuple[int, int] | None
    if p.image_size is None:
        first = decode(files[0], None, p.channels)
        size = (first.shape[1], first.shape[2])
    elif isinstance(p.image_size, int):
        size = (p.image_size, p.image_size)
    else:
        size = (p.image_size[0], p.image_size[1])
    decoded_mb = len(files) * p.channels * size[0] * size[1] * 4 / 2**20
    shape = (p.channels, size[0], size[1])
    info = DataInfo(
        name=folder.name,
        source=str(folder),
        task=recipe.task.kind,
        input_shape=shape,
        output_dim=len(classes),
        input_kind="image",
        class_names=classes,
        source_path=str(folder),
    )
    info.preprocessing = {"kind": "images", "image_size": list(size), "channels": p.channels, "class_names": classes}
    if decoded_mb > p.memory_budget_mb:
        _verify(files)
        splits = assign(y, p, stratify=True, fold=fold, names=classes)
        return _streaming(recipe, files, y, splits, info, size)
    x = np.stack([decode(f, size, p.channels) for f in files])
    splits = assign(y, p, stratify=True, fold=fold, names=classes)
    return build_module(recipe, x, y, splits, info, augment=augmenter(p.augment))


class ImageFiles(Dataset[tuple[torch.Tensor, int]]):
    """Images decoded one at a time (in DataLoader workers), normalised with training statistics."""

    def __init__(
        self,
        files: list[Path],
        labels: np.ndarray,
        size: tuple[int, int],
        channels: int,
        shift: np.ndarray,
        scale: np.ndarray,
    ) -> None:
        self.files, self.labels, self.size, self.channels = files, labels, size, channels
        self.shift, self.scale = shift.astype(np.float32), scale.astype(np.float32)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = (decode(self.files[i], self.size, self.channels) - self.shift) / self.scale
        return torch.from_numpy(x), int(self.labels[i])


class StreamingImageModule(SplitDataModule):
    """Image folders too large for memory: DataLoaders with workers decode the files batch by batch."""

    def __init__(
        self,
        files: list[Path],
        y: np.ndarray,
        splits: dict[str, np.ndarray],
        info: DataInfo,
        params: Any,
        size: tuple[int, int],
        shift: np.ndarray,
        scale: np.ndarray,
    ) -> None:
        super().__init__()
        self.files, self.y, self.index, self.info = files, y, splits, info
        self.params, self.size, self.shift, self.scale = params, size, shift, scale
        self.augment = augmenter(params.augment)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader[Any]:
        rows = self.index[split]
        dataset = ImageFiles(
            [self.files[i] for i in rows], self.y[rows], self.size, self.params.channels, self.shift, self.scale
        )
        workers = self.params.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=workers,
            persistent_workers=workers > 0,
            generator=torch.Generator().manual_seed(self.params.seed),
        )

    def train_dataloader(self) -> DataLoader[Any]:
        return self._loader("train", self.params.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader[Any]:
        return self._loader("val", self.params.eval_batch_size or self.params.batch_size * 4, shuffle=False)

    def test_dataloader(self) -> DataLoader[Any]:
        return self._loader("test", self.params.eval_batch_size or self.params.batch_size * 4, shuffle=False)

    def logged_splits(self) -> dict[str, tuple[Any, np.ndarray]]:
        import pandas as pd

        return {
            s: (pd.DataFrame({"file": [str(self.files[i]) for i in rows]}), self.y[rows])
            for s, rows in self.index.items()
        }


def _verify(files: list[Path]) -> None:
    """Every file opens as an image (cheap: headers and checksums, no full decode)."""
    from PIL import Image

    for f in files:
        try:
            with Image.open(f) as image:
                image.verify()
        except image_errors() as e:  # UnidentifiedImageError is an OSError
            raise image_error(f, e) from None


def _streaming(
    recipe: Recipe,
    files: list[Path],
    y: np.ndarray,
    splits: dict[str, np.ndarray],
    info: DataInfo,
    size: tuple[int, int],
) -> StreamingImageModule:
    """Per-channel statistics over the training images, computed in one pass."""
    p = section(recipe.data, ImageFolderData)
    channels = p.channels
    total, squares = np.zeros(channels), np.zeros(channels)
    low, high = np.full(channels, np.inf), np.full(channels, -np.inf)
    pixels = 0
    for i in splits["train"]:
        x = decode(files[i], size, channels).reshape(channels, -1).astype(np.float64)
        total += x.sum(axis=1)
        squares += (x**2).sum(axis=1)
        low, high = np.minimum(low, x.min(axis=1)), np.maximum(high, x.max(axis=1))
        pixels += x.shape[1]
    if p.scale == "standard":
        shift = total / pixels
        scale = np.sqrt(np.maximum(squares / pixels - shift**2, 0.0))
    elif p.scale == "minmax":
        shift, scale = low, high - low
    else:
        shift, scale = np.zeros(channels), np.ones(channels)
    scale = np.where(scale == 0, 1.0, scale)
    shift, scale = shift.reshape(-1, 1, 1), scale.reshape(-1, 1, 1)
    info.preprocessing["scaler"] = {"method": p.scale, "shift": shift.tolist(), "scale": scale.tolist(), "constant": []}
    info.preprocessing["streamed"] = True
    info.split_sizes = {s: len(rows) for s, rows in splits.items()}
    info.train_class_counts = np.bincount(y[splits["train"]], minlength=len(info.class_names or [])).tolist()
    return StreamingImageModule(files, y, splits, info, p, size, shift, scale)


def read_path(path: Path, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    pre = info.preprocessing
    files = files_to_read(path, EXTENSIONS, "PNG/JPEG images", field)
    size = tuple(pre["image_size"])
    x = np.stack([decode(f, size, pre["channels"]) for f in files])  # type: ignore[arg-type]
    if "scaler" in pre:
        x = apply_scaler(x, pre["scaler"])
    y = folder_labels(path, files, info.class_names or [])  # images in subfolders named after classes
    return RawInputs(x.astype(np.float32), y, {"path": [str(f) for f in files]})


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> None:
    """None: a run on files that are not tables has no MLflow model served as rows."""
    return None
