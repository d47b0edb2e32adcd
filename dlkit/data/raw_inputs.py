"""New raw data -> model inputs, through the preprocessing a run fitted on its training split.

The fitted preprocessing (scaler statistics, category lists, imputation values, vocabulary, window
length) travels in every checkpoint; the run's data kind reads a new file, or the rows a served model
receives, into exactly the inputs it was trained on (its `read_rows`, `read_path`, `example_rows`).
The target is optional: present, `evaluate` scores against it; absent, `predict` only predicts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlkit.data.files import read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, read_csv
from dlkit.data.table_images import FOLDER
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import DATA_KINDS
from dlkit.recipe.schema import Recipe

__all__ = ["RawInputs", "example_frame", "from_file", "from_frame"]


def _reader(info: DataInfo, part: str) -> Callable[..., Any] | None:
    return DATA_KINDS.get(str(info.preprocessing.get("kind"))).part(part)


def from_file(path: Path, recipe: Recipe, info: DataInfo, field: str = "--input") -> RawInputs:
    """Read a file (or image folder) in the format the run was trained on."""
    if not path.exists():
        raise DataError(f"{field}: {path} does not exist")
    read_path = _reader(info, "read_path")
    if read_path is not None:
        return read_path(path, recipe, info, field)  # type: ignore[no-any-return]
    if path.is_dir():
        kind = info.preprocessing.get("kind")
        raise DataError(f"{field}: {path} is a folder; give a {'CSV/TSV' if kind != 'text' else 'text'} file")
    params = recipe.data.model_copy(update={"path": str(path)}) if hasattr(recipe.data, "path") else None
    if params is not None:
        frame, _ = read_table(params, header=getattr(params, "header", True), field=field)
        frame.attrs[FOLDER] = str(path.parent)  # a table's image paths are relative to its own folder
    else:
        frame = read_csv(path, field)
    return from_frame(frame, recipe, info, field)


def from_frame(frame: Any, recipe: Recipe, info: DataInfo, field: str = "input") -> RawInputs:
    """Rows of a table (a DataFrame) -> model inputs, for the kinds that read table rows."""
    if len(frame) == 0:
        raise DataError(f"{field}: no rows")
    read_rows = _reader(info, "read_rows")
    if read_rows is None:
        raise DataError(f"{field}: runs on {info.preprocessing.get('kind')} data take files, not table rows")
    return read_rows(frame, recipe, info, field)  # type: ignore[no-any-return]


def example_frame(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any | None:
    """A few raw rows as the run's served model takes them (no target); None for image and array runs."""
    example_rows = _reader(info, "example_rows")
    return example_rows(recipe, info, rows) if example_rows is not None else None
