"""Folders of images or of sound clips (a subfolder per class) and .npz arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlkit.data.audio import decoded, resolved
from dlkit.data.files import AUDIO_EXTENSIONS, EXTENSIONS, class_files, image_error, image_errors, list_images
from dlkit.data.infer import common, targets
from dlkit.data.infer.common import IMBALANCE, Draft
from dlkit.errors import DataError

#: clips whose length sets data.duration (the longest of them, up to MAX_SECONDS)
SAMPLED_CLIPS = 200
MAX_SECONDS = 10.0


def _classes(d: Draft, counts: dict[str, int]) -> dict[str, Any]:
    """The summary line of a folder's classes, and the task: balanced class weights when they are imbalanced."""
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
    d.summary.append(f"classes: {shown}{' ...' if len(counts) > 6 else ''}")
    task: dict[str, Any] = {"kind": "classification"}
    if min(counts.values()) < IMBALANCE * max(counts.values()):
        task["class_weights"] = "balanced"
    return task


def holds_sound(path: Path) -> bool:
    """Whether the folder's class subfolders hold WAV clips rather than images."""
    suffixes = {f.suffix.lower() for f in path.rglob("*") if f.is_file()}
    return bool(suffixes & AUDIO_EXTENSIONS) and not suffixes & EXTENSIONS


def sounds(path: Path, name: str) -> Draft:
    """The recipe of a folder with a subfolder of clips per class."""
    files, codes, classes = class_files(path, AUDIO_EXTENSIONS, "WAV or FLAC clips")
    return _sound(Draft(common.base(name, path)), path, files, codes, classes, {})


def sound_table(path: Path, name: str, frame: Any, target: str, clips: str, split: str | None) -> Draft:
    """The recipe of a table whose column `clips` names sound files and `target` holds their labels."""
    present = frame[frame[target].notna() & frame[clips].notna()]
    files = resolved(present[clips], path.parent)
    labels = present[target].astype(str).to_numpy()
    classes = sorted(set(labels))
    codes = np.asarray([classes.index(v) for v in labels], dtype=np.int64)
    d = Draft(common.base(name, path))
    others = [str(c) for c in frame.columns if c not in (target, clips, split)]
    if others:
        d.notes.append(f"a sound model reads the clips alone: column(s) {', '.join(others[:6])} are not inputs")
    extra = {"target": target, "path_column": clips, **({"split_column": split} if split else {})}
    if split:
        d.note(("data", "split_column"), "each clip's split as the table marks it (train, val, test)")
    return _sound(d, path, files, codes, classes, extra)


def _sound(
    d: Draft, path: Path, files: list[Path], codes: np.ndarray, classes: list[str], extra: dict[str, Any]
) -> Draft:
    counts = dict(zip(classes, np.bincount(codes, minlength=len(classes)).tolist(), strict=True))
    step = max(1, len(files) // SAMPLED_CLIPS)
    seconds, rates = [], set()
    for f in files[::step]:
        rate, samples = decoded(f)
        seconds.append(len(samples) / rate)
        rates.add(int(rate))
    longest = min(MAX_SECONDS, max(seconds))
    duration = max(0.1, np.ceil(longest * 10) / 10)
    rate = min(16000, min(rates))
    d.summary.append(f"{path.name}: {len(files)} clips in {len(counts)} classes, up to {max(seconds):.2f} s, "
                     f"{', '.join(str(r) for r in sorted(rates))} Hz")  # fmt: skip
    task = _classes(d, counts)
    data: dict[str, Any] = {
        "kind": "audio",
        "path": str(path),
        **extra,
        "sample_rate": rate,
        "duration": float(duration),
        "n_mels": 48 if rate >= 16000 else 32,
        "batch_size": 32,
        "augment": {"gain_db": 6, "shift_ms": 30, "freq_masks": 1, "freq_mask_bins": 6},
    }
    d.note(("data", "duration"), f"the longest clip sampled is {max(seconds):.2f} s: shorter ones padded with silence")
    d.note(
        ("data", "augment"), "training clips a little louder or quieter, shifted in time, one band of mel bins masked"
    )
    d.recipe.update(
        task=task,
        data=data,
        model={"arch": "cnn", "channels": [16, 32], "hidden": [64], "dropout": 0.3},
        optim={"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4},
        trainer=common.trainer(30, 8),  # val/loss: the accuracy of short clips saturates early
        tracking={"experiment": "dlkit-audio"},
        tune=common.tune(
            {
                "optim.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                "model.dropout": {"type": "float", "low": 0.1, "high": 0.5},
                "model.channels": {"type": "categorical", "choices": [[16, 32], [32, 64]]},
            },
        ),
    )
    return d


def images(path: Path, name: str) -> Draft:
    from PIL import Image

    d = Draft(common.base(name, path))
    files, codes, classes = list_images(path)  # the files the images data kind will read
    counts = dict(zip(classes, np.bincount(codes, minlength=len(classes)).tolist(), strict=True))
    first = files[0]
    try:
        with Image.open(first) as image:
            width, height = image.size
            colour = image.mode not in ("L", "1", "I;16", "I")
    except image_errors() as e:
        raise image_error(first, e) from None
    total = sum(counts.values())
    d.summary.append(f"{path.name}: {total} images in {len(counts)} classes; the first is {width}x{height}")
    task = _classes(d, counts)
    data: dict[str, Any] = {"kind": "images", "path": str(path), "channels": 3 if colour else 1, "batch_size": 32}
    if max(width, height) > 64:
        data["image_size"] = [64, 64]
        d.note(("data", "image_size"), f"the images are {width}x{height}; resized for a small CNN")
    data["augment"] = {"shift": 2 if max(width, height) <= 64 else 4, "flip": False}
    d.recipe.update(
        task=task,
        data=data,
        model={"arch": "cnn", "channels": [32, 64], "convs_per_block": 2, "hidden": [128], "dropout": 0.3},
        optim={"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "scheduler": {"name": "cosine"}},
        trainer=common.trainer(40, 10, "val/acc"),
        tracking={"experiment": "dlkit-images"},
        tune=common.tune(
            {
                "optim.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                "model.dropout": {"type": "float", "low": 0.1, "high": 0.5},
                "model.channels": {"type": "categorical", "choices": [[16, 32], [32, 64], [32, 64, 128]]},
            },
            "val/acc",
        ),
    )
    return d


def arrays(path: Path, name: str) -> Draft:
    d = Draft(common.base(name, path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive or "y" not in archive:
                raise DataError(f"{path}: an .npz for dlkit holds arrays X and y (found {', '.join(archive.files)})")
            x_shape, y = archive["X"].shape, archive["y"]
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz file ({str(e).splitlines()[0]})") from None
    task_kind = targets.task_kind(pd.Series(y.reshape(len(y), -1)[:, 0], name="y"))
    d.summary.append(f"{path.name}: X {x_shape}, y {y.shape}")
    targets.target_summary(d, pd.Series(y.reshape(len(y), -1)[:, 0], name="y"), task_kind)
    image = len(x_shape) in (3, 4)
    task = {"kind": task_kind}
    if task_kind == "regression":
        task["target_transform"] = "standard"
    d.recipe.update(
        task=task,
        data={"kind": "arrays", "path": str(path), "batch_size": common.batch(x_shape[0])},
        model={"arch": "cnn"} if image else {"arch": "mlp", "hidden": common.width(x_shape[0]), "dropout": 0.1},
        optim=common.optim(1e-3, 1e-4),
        trainer=common.trainer(100, 15),
        tracking={"experiment": "dlkit-arrays"},
        tune=common.tune(
            {
                "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
                **(
                    {"model.channels": {"type": "categorical", "choices": [[16, 32], [32, 64]]}}
                    if image
                    else {"model.hidden": {"type": "categorical", "choices": [[64], [128, 64], [256, 128]]}}
                ),
            }
        ),
    )
    return d
