"""A table's image columns (`data.images`): each cell a path to an image file, decoded beside the other columns.

Each image column becomes channels x size x size input columns of pixels, scaled with the mean and
spread of its training-split images; the model's image encoder (`data.image_encoder`: a small CNN or
residual blocks) reads them back as an image, so one network sees a listing's photo together with
its price and district. Relative paths resolve against the folder of the table that names them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.images import decode
from dlkit.data.info import ImageBlock
from dlkit.data.rows import input_column
from dlkit.errors import DataError
from dlkit.recipe.column_encoders import ImageEncoder

#: the most memory the decoded images of a table may take while it is built
MEMORY_MB = 4096

#: where `raw_inputs.from_file` leaves the folder of the file a frame was read from
FOLDER = "dlkit.folder"


def folder_of(frame: Any) -> Path:
    """The folder relative image paths of `frame` resolve against: its file's, else the working folder."""
    return Path(frame.attrs.get(FOLDER) or ".")


def _paths(frame: Any, column: Any, folder: Path, field: str) -> list[Path | None]:
    """Each row's image file (None for a missing cell); a named file that is not there is an error."""
    out: list[Path | None] = []
    for row, value in enumerate(frame[column].tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
            out.append(None)
            continue
        path = Path(str(value).strip()).expanduser()
        path = path if path.is_absolute() else folder / path
        if not path.is_file():
            raise DataError(
                f"{field}: column '{column}' names {value!r} in data row {row + 1}, and {path} is not a file",
                hint="paths are relative to the table's folder; fix the path or leave the cell empty",
            )
        out.append(path)
    return out


def absolute(frame: Any, columns: list[str], folder: Path) -> Any:
    """`frame` with the relative paths of its image columns made absolute against `folder`."""
    for name in columns:
        frame[name] = [
            v if not isinstance(v, str) or Path(v).is_absolute() else str((folder / v).resolve()) for v in frame[name]
        ]
    return frame


def _pixels(paths: list[Path | None], channels: int, size: int) -> np.ndarray:
    """(rows, channels, size, size) float32 in [0, 1]; NaN where the cell named no image."""
    out = np.full((len(paths), channels, size, size), np.nan, dtype=np.float32)
    rows = [i for i, p in enumerate(paths) if p is not None]
    if not rows:
        return out
    with ThreadPoolExecutor(max_workers=4) as pool:  # Pillow decodes outside the GIL
        decoded = pool.map(lambda i: decode(paths[i], (size, size), channels), rows)  # type: ignore[arg-type]
        for i, image in zip(rows, decoded, strict=True):
            out[i] = image
    return out


def _scaled(pixels: np.ndarray, mean: list[float], std: list[float]) -> np.ndarray:
    """Standardised per channel; a blank (missing) image is the training mean, all zeros."""
    m = np.asarray(mean, dtype=np.float32)[None, :, None, None]
    s = np.asarray(std, dtype=np.float32)[None, :, None, None]
    return np.nan_to_num((pixels - m) / s, nan=0.0).reshape(len(pixels), -1)


def fit(
    frame: Any, columns: list[Any], folder: Path, train: np.ndarray, params: ImageEncoder
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """Per image column what reading it needs again (size, colour, training-split mean and spread per
    channel) and the scaled pixels of every row; each image is decoded once."""
    fitted: dict[str, dict[str, Any]] = {}
    blocks = [np.zeros((len(frame), 0), dtype=np.float32)]
    channels = 1 if params.color == "gray" else 3
    # the decoded pixels stay in memory with the other columns, in about three float32 copies
    mb = 3 * 4 * len(frame) * len(columns) * channels * params.size**2 / 2**20
    if mb > MEMORY_MB:
        raise DataError(
            f"data.image_encoder.size {params.size}: the images of {len(frame)} rows take about {mb / 1024:.1f} GB "
            f"in memory ({len(columns)} column(s) of {channels} x {params.size} x {params.size} pixels)",
            hint="lower data.image_encoder.size or read them gray; an image folder (data.kind: images) streams",
        )
    for name in columns:
        pixels = _pixels(_paths(frame, name, folder, "data.images"), channels, params.size)
        seen = pixels[train]
        seen = seen[~np.isnan(seen).any(axis=(1, 2, 3))]
        if not len(seen):
            raise DataError(f"data.images: column '{name}' names no image in the training split")
        mean = seen.mean(axis=(0, 2, 3)).astype(float).tolist()
        std = [max(float(s), 1e-3) for s in seen.std(axis=(0, 2, 3))]
        fitted[str(name)] = {"size": params.size, "channels": channels, "mean": mean, "std": std,
                             "filters": list(params.filters), "encoder": params.encoder}  # fmt: skip
        blocks.append(_scaled(pixels, mean, std))
    return fitted, np.concatenate(blocks, axis=1)


def pixels(frame: Any, fitted: dict[str, dict[str, Any]], field: str, *, scaled: bool = True) -> np.ndarray:
    """The pixels of every image column, side by side: (rows, sum of channels x size x size); scaled as the
    network reads them, or (`scaled=False`) as decoded, in [0, 1] and NaN for a missing image."""
    blocks = [np.zeros((len(frame), 0), dtype=np.float32)]
    for name, f in fitted.items():
        column = input_column(frame, name, field, "image")
        raw = _pixels(_paths(frame, column, folder_of(frame), field), int(f["channels"]), int(f["size"]))
        blocks.append(_scaled(raw, f["mean"], f["std"]) if scaled else raw.reshape(len(raw), -1))
    return np.concatenate(blocks, axis=1)


def scale_vectors(fitted: dict[str, dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Per input pixel, the mean and spread `pixels` scales it with (for a graph that does it itself)."""
    means, stds = [np.zeros(0, np.float32)], [np.ones(0, np.float32)]
    for f in fitted.values():
        per_channel = int(f["size"]) ** 2
        means.append(np.repeat(np.asarray(f["mean"], np.float32), per_channel))
        stds.append(np.repeat(np.asarray(f["std"], np.float32), per_channel))
    return np.concatenate(means), np.concatenate(stds)


def positions(fitted: dict[str, dict[str, Any]], start: int) -> list[ImageBlock]:
    """Each image column's block of input columns and its encoder."""
    out = []
    for f in fitted.values():
        block = ImageBlock(
            start, int(f["channels"]), int(f["size"]), [int(c) for c in f["filters"]], str(f.get("encoder", "cnn"))
        )
        out.append(block)
        start += block.width
    return out
