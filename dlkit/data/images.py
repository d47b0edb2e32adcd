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

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.files import existing
from dlkit.data.info import DataInfo
from dlkit.data.splits import assign
from dlkit.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def list_images(folder: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """Image files, their class codes and the class names (subfolder names, sorted)."""
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"data.path: {folder} needs one subfolder per class (found {len(classes)})")
    files: list[Path] = []
    codes: list[int] = []
    for code, name in enumerate(classes):
        found = sorted(f for f in (folder / name).rglob("*") if f.suffix.lower() in EXTENSIONS and f.is_file())
        if not found:
            raise DataError(f"data.path: class folder {folder / name} holds no PNG/JPEG images")
        files.extend(found)
        codes.extend([code] * len(found))
    return files, np.asarray(codes, dtype=np.int64), classes


def decode(path: Path, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = opened.convert("L" if channels == 1 else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(
            f"image {path} cannot be decoded ({type(e).__name__})", hint="remove or replace the file"
        ) from None
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


def build(recipe: Any, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of an image folder."""
    p = recipe.data
    if recipe.task.kind != "classification":
        raise DataError(f"data.kind images supports task classification, not {recipe.task.kind}")
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
    if decoded_mb > p.memory_budget_mb:
        raise DataError(
            f"the {len(files)} images take {decoded_mb:.0f} MiB decoded, over data.memory_budget_mb={p.memory_budget_mb}",
            hint="raise data.memory_budget_mb or lower data.image_size",
        )
    x = np.stack([decode(f, size, p.channels) for f in files])
    info = DataInfo(
        name=folder.name,
        source=str(folder),
        task=recipe.task.kind,
        input_shape=tuple(x.shape[1:]),
        output_dim=0,
        input_kind="image",
        class_names=classes,
        source_path=str(folder),
    )
    info.preprocessing = {"kind": "images", "image_size": list(size), "channels": p.channels, "class_names": classes}
    splits = assign(y, p, stratify=True, fold=fold, names=classes)
    return build_module(recipe, x, y, splits, info, augment=augmenter(p.augment))
