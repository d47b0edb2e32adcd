"""Shared parts of reading new rows through a run's fitted preprocessing: columns, labels, numbers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlkit.data.files import read_table
from dlkit.data.info import DataInfo
from dlkit.errors import DataError
from dlkit.recipe.schema import Recipe


@dataclasses.dataclass
class RawInputs:
    """Model inputs for new data, their targets when the data has them, and columns that identify each row."""

    x: np.ndarray
    y: np.ndarray | None
    ids: dict[str, list[Any]]
    #: rows that ask for each one's best items (recommendation: a user without an item), not a score each
    ranked: bool = False


def input_column(frame: Any, name: Any, field: str, what: str) -> Any:
    """The frame's column `name` (or its integer position written as text), or a DataError naming it."""
    if name in frame.columns:
        return name
    if isinstance(name, str) and name.isdigit() and int(name) in frame.columns:
        return int(name)
    shown = ", ".join(str(c) for c in list(frame.columns)[:12])
    raise DataError(f"{field}: {what} column '{name}' is missing; the file has {shown}")


def labels(frame: Any, target: Any, info: DataInfo, field: str) -> np.ndarray | None:
    """Targets if the target column is there: class codes by class name, or values (several targets: one
    column each, as the run's target matrix)."""
    if info.targets:
        return _target_matrix(frame, info, field)
    if target is None or target not in frame.columns:
        return None
    values = frame[target]
    if values.isna().all():  # the column is there but not filled in: rows to predict, not to score
        return None
    if info.class_names is None:
        return values.to_numpy(np.float32)  # type: ignore[no-any-return]
    return class_codes(values, info.class_names, field)


def _target_matrix(frame: Any, info: DataInfo, field: str) -> np.ndarray | None:
    """Each target's codes or values; None when a target column is absent or empty (rows to predict)."""
    blocks = []
    for target in info.targets:
        if target.column not in frame.columns or frame[target.column].isna().all():
            return None
        if target.class_names is None:
            blocks.append(frame[target.column].to_numpy(np.float32))
        else:
            codes = class_codes(frame[target.column], target.class_names, f"{field}: column '{target.column}'")
            blocks.append(codes.astype(np.float32))
    return np.stack(blocks, axis=1)


def class_codes(values: Any, class_names: list[str], field: str) -> np.ndarray:
    """Class codes of labels by class name; a label the run never saw is an error naming its row."""
    lookup = {name: i for i, name in enumerate(class_names)}
    codes = []
    for row, value in enumerate(values):
        key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if key not in lookup:
            raise DataError(
                f"{field}: label '{value}' in data row {row + 1} is not a class the run was trained on "
                f"({', '.join(class_names[:10])})"
            )
        codes.append(lookup[key])
    return np.asarray(codes, dtype=np.int64)


def numbers(frame: Any, names: list[Any], fill: dict[str, Any], field: str) -> np.ndarray:
    out = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() & frame[name].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{field}: column '{name}' is not numeric ({frame[name].iloc[row]!r} in data row {row + 1})"
            )
        if values.isna().any():
            if str(name) not in fill:
                row = int(np.flatnonzero(values.isna().to_numpy())[0])
                raise DataError(
                    f"{field}: column '{name}' is empty in data row {row + 1} and the run imputed nothing there"
                )
            values = values.fillna(fill[str(name)])
        out[:, j] = values.to_numpy(np.float64)
    return out


def read_csv(path: Path, field: str) -> Any:
    """A CSV, TSV or Parquet file given on the command line, read like a recipe's table."""
    return read_table(None, path=path, field=field)[0]


def row_ids(n: int) -> dict[str, list[Any]]:
    """The identifying column of rows without one of their own: 1, 2, ..."""
    return {"row": list(range(1, n + 1))}


def first_rows(recipe: Recipe, keep: list[Any], rows: int) -> Any:
    """The first `rows` rows of the recipe's training file, only the columns in `keep`, named as strings."""
    frame, _ = read_table(recipe.data, header=getattr(recipe.data, "header", True))
    columns = [input_column(frame, c, "data.path", "input") for c in keep]
    example = frame[columns].head(rows).reset_index(drop=True)
    example.columns = [str(c) for c in example.columns]
    return example
