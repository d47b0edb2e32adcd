"""Arrays from an .npz file: X and y, optionally X_test and y_test (then the test split is fixed)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.files import existing
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, labels, row_ids
from dlkit.data.scaling import apply_scaler, check_finite
from dlkit.data.splits import assign
from dlkit.data.targets import encode_labels
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import ArraysData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    path = existing(section(recipe.data, ArraysData).path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        reason = "it holds pickled objects" if "pickle" in str(e) else str(e).splitlines()[0]
        raise DataError(
            f"data.path: {path} is not a readable .npz file of plain arrays ({reason})",
            hint="save it with np.savez(path, X=features, y=targets)",
        ) from None
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(
                f"data.path: {path} has no array '{key}'; found {', '.join(sorted(arrays)) or 'none'}",
                hint="save with np.savez(path, X=features, y=targets)",
            )
    x, y = arrays["X"], arrays["y"]
    has_test = "X_test" in arrays or "y_test" in arrays
    if has_test:
        if "X_test" not in arrays or "y_test" not in arrays:
            raise DataError(f"data.path: {path} needs both X_test and y_test, or neither")
        x = np.concatenate([x, arrays["X_test"]])
        y = np.concatenate([y, arrays["y_test"]])
    if len(x) != len(y):
        raise DataError(f"data.path: X has {len(x)} rows but y has {len(y)}")
    if len(x) == 0:
        raise DataError(f"data.path: {path} holds no samples")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"data.path: X must be numeric, not {x.dtype}")
    x = x.astype(np.float32)
    check_finite(x, "data.path X")
    classification = recipe.task.labelled
    if classification:
        codes, names = encode_labels(y, "data.path y")
    else:
        if not np.issubdtype(y.dtype, np.number):
            raise DataError(f"data.path: y must be numeric for task {recipe.task.kind}, not {y.dtype}")
        codes, names = y.astype(np.float32), None
        check_finite(codes, "data.path y")
    kind: Any = {2: "dense", 3: "sequence", 4: "image"}.get(x.ndim)
    if kind is None:
        raise DataError(f"data.path: X has shape {x.shape}; expected (N, F), (N, T, F) or (N, C, H, W)")
    info = DataInfo(
        name=path.stem,
        source=str(path),
        task=recipe.task.kind,
        input_shape=tuple(x.shape[1:]),
        output_dim=0,
        input_kind=kind,
        class_names=names,
        source_path=str(path),
    )
    info.preprocessing = {"kind": "arrays", "class_names": names}
    n_test = len(arrays["X_test"]) if has_test and fold is None else 0
    splits = assign(codes, recipe.data, stratify=classification, fold=fold, n_fixed_test=n_test, names=names)
    return build_module(recipe, x, codes, splits, info)


def read_path(path: Path, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    try:
        if path.suffix == ".npy":
            x, y = np.load(path, allow_pickle=False), None
        else:
            with np.load(path, allow_pickle=False) as npz:
                if "X" not in npz.files:
                    raise DataError(f"{field}: {path} has no array 'X'")
                x, y = npz["X"], (npz["y"] if "y" in npz.files else None)
    except (ValueError, OSError) as e:
        raise DataError(f"{field}: {path} is not a readable .npy/.npz file ({str(e).splitlines()[0]})") from None
    if tuple(x.shape[1:]) != tuple(info.input_shape):
        raise DataError(
            f"{field}: X has samples of shape {tuple(x.shape[1:])}; the run takes {tuple(info.input_shape)}"
        )
    x = x.astype(np.float32)
    if "scaler" in info.preprocessing:
        x = apply_scaler(x, info.preprocessing["scaler"])
    codes = labels(pd.DataFrame({"y": y}), "y", info, field) if y is not None else None
    return RawInputs(x, codes, row_ids(len(x)))


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> None:
    """None: a run on files that are not tables has no MLflow model served as rows."""
    return None
