"""New raw data -> model inputs, through the preprocessing a run fitted on its training split.

The fitted preprocessing (scaler statistics, category lists, imputation values, vocabulary,
window length) travels in every checkpoint, so a finished run turns a new file, or the rows
a served model receives, into exactly the inputs it was trained on. Each data kind reads the
same format it was trained from; the target column is optional (present: `evaluate` scores
against it; absent: `predict` only predicts).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.builtin import load_arrays
from dlkit.data.files import read_table
from dlkit.data.images import EXTENSIONS, decode
from dlkit.data.info import DataInfo
from dlkit.data.scaling import apply_scaler
from dlkit.data.text import encode, tokenize
from dlkit.errors import DataError
from dlkit.recipe.schema import Recipe


@dataclasses.dataclass
class RawInputs:
    """Model inputs for new data, their targets when the data has them, and columns that identify each row."""

    x: np.ndarray
    y: np.ndarray | None
    ids: dict[str, list[Any]]


def from_file(path: Path, recipe: Recipe, info: DataInfo, field: str = "--input") -> RawInputs:
    """Read a file (or image folder) in the format the run was trained on."""
    kind = info.preprocessing.get("kind")
    if not path.exists():
        raise DataError(f"{field}: {path} does not exist")
    if kind == "images":
        return _images(path, info, field)
    if kind == "arrays":
        return _arrays(path, info, field)

    if path.is_dir():
        raise DataError(f"{field}: {path} is a folder; give a {'CSV/TSV' if kind != 'text' else 'text'} file")
    params = recipe.data.model_copy(update={"path": str(path)}) if hasattr(recipe.data, "path") else None
    if params is not None:
        frame, _ = read_table(params, header=getattr(params, "header", True))
    else:
        frame = _read_csv(path, field)
    return from_frame(frame, recipe, info, field)


def _read_csv(path: Path, field: str) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path, sep="\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{field}: {path} is not a readable CSV table ({str(e).strip().splitlines()[-1]})") from None


def from_frame(frame: Any, recipe: Recipe, info: DataInfo, field: str = "input") -> RawInputs:
    """Rows of a table (a DataFrame) -> model inputs, for table, built-in, text and time-series runs."""
    kind = info.preprocessing.get("kind")
    if len(frame) == 0:
        raise DataError(f"{field}: no rows")
    readers = {"csv": _csv, "builtin": _builtin, "text": _text, "timeseries": _timeseries}
    if kind not in readers:
        raise DataError(f"{field}: runs on {kind} data take files, not table rows")
    return readers[kind](frame, recipe, info, field)  # type: ignore[no-any-return]


def _column(frame: Any, name: Any, field: str, what: str) -> Any:
    if name in frame.columns:
        return name
    if isinstance(name, str) and name.isdigit() and int(name) in frame.columns:
        return int(name)
    shown = ", ".join(str(c) for c in list(frame.columns)[:12])
    raise DataError(f"{field}: {what} column '{name}' is missing; the file has {shown}")


def _labels(frame: Any, target: Any, info: DataInfo, field: str) -> np.ndarray | None:
    """Targets if the target column is there: class codes by class name, or values."""
    if target is None or target not in frame.columns:
        return None
    values = frame[target]
    if info.class_names is None:
        return values.to_numpy(np.float32)  # type: ignore[no-any-return]
    lookup = {name: i for i, name in enumerate(info.class_names)}
    codes = []
    for row, value in enumerate(values):
        key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if key not in lookup:
            raise DataError(
                f"{field}: label '{value}' in data row {row + 1} is not a class the run was trained on "
                f"({', '.join(info.class_names[:10])})"
            )
        codes.append(lookup[key])
    return np.asarray(codes, dtype=np.int64)


def _numbers(frame: Any, names: list[Any], fill: dict[str, Any], field: str) -> np.ndarray:
    import pandas as pd

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


def _csv(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    pre = info.preprocessing
    numeric = [_column(frame, c, field, "feature") for c in pre["numeric"]]
    fill = {str(k): v for k, v in pre.get("impute", {}).items()}
    blocks = [_numbers(frame, numeric, fill, field)]
    if "scaler" in pre and numeric:
        blocks[0] = apply_scaler(blocks[0], pre["scaler"]).astype(np.float64)
    for name, known in pre["categorical"].items():
        col = _column(frame, name, field, "categorical")
        values = frame[col].fillna(fill.get(str(name), "")).astype(str).to_numpy()
        if pre["categorical_encoding"] == "onehot":
            blocks.append((values[:, None] == np.asarray(known)[None, :]).astype(np.float64))
        else:
            lookup = {c: i + 1 for i, c in enumerate(known)}
            blocks.append(np.asarray([lookup.get(v, 0) for v in values], dtype=np.float64)[:, None])
    x = np.concatenate(blocks, axis=1).astype(np.float32)
    target = pre.get("target")
    target = target if target in frame.columns else None
    return RawInputs(x, _labels(frame, target, info, field), {"row": list(range(1, len(frame) + 1))})


def _builtin(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:

    features = load_arrays(info.preprocessing["name"])[3]
    columns = [_column(frame, c, field, "feature") for c in features]
    x = _numbers(frame, columns, {}, field).reshape(-1, *info.input_shape)
    if "scaler" in info.preprocessing:
        x = apply_scaler(x, info.preprocessing["scaler"])
    return RawInputs(
        x.astype(np.float32), _labels(frame, "target", info, field), {"row": list(range(1, len(frame) + 1))}
    )


def _text(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:

    pre = info.preprocessing
    col = _column(frame, pre["text_column"], field, "text")
    texts = frame[col].fillna("").astype(str).tolist()
    ids = encode((tokenize(t, pre["tokenizer"], pre["lowercase"]) for t in texts), pre["vocab"], pre["max_length"])
    target = getattr(recipe.data, "target", None)
    target = target if target in frame.columns else None
    return RawInputs(ids, _labels(frame, target, info, field), {"row": list(range(1, len(frame) + 1))})


def _timeseries(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    """Every window of the series: inputs are `window` steps, targets the next `horizon` ones where known."""
    pre = info.preprocessing
    time_col = _column(frame, pre["time_column"], field, "time")
    columns = [_column(frame, c, field, "series") for c in pre["columns"]]
    frame = frame.sort_values(time_col, kind="stable").reset_index(drop=True)
    values = _numbers(frame, columns, {}, field)
    window, horizon = int(pre["window"]), int(pre["horizon"])
    n = len(values)
    if n < window:
        raise DataError(f"{field}: the series has {n} steps; the run needs at least its window of {window}")
    scaler = pre["scaler"]
    scaled = apply_scaler(values, scaler) if scaler.get("method", "none") != "none" else values.astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0).transpose(0, 2, 1).astype(np.float32)
    targets = list(range(len(pre["targets"])))
    y = None
    if n - window >= horizon:  # targets exist for the windows whose whole horizon lies inside the file
        future = np.lib.stride_tricks.sliding_window_view(values[window:, targets], horizon, axis=0)
        y = future.transpose(0, 2, 1).reshape(len(future), -1).astype(np.float32)
    times = frame[time_col].astype(str).tolist()
    return RawInputs(np.ascontiguousarray(x), y, {"last_input_time": times[window - 1 :]})


def _images(path: Path, info: DataInfo, field: str) -> RawInputs:

    pre = info.preprocessing
    files = (
        [path]
        if path.is_file()
        else sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS)
    )
    if not files:
        raise DataError(f"{field}: {path} holds no PNG/JPEG images")
    size = tuple(pre["image_size"])
    x = np.stack([decode(f, size, pre["channels"]) for f in files])  # type: ignore[arg-type]
    if "scaler" in pre:
        x = apply_scaler(x, pre["scaler"])
    # images in subfolders named after classes carry their labels
    names = info.class_names or []
    parents = [f.parent.name for f in files]
    y = None
    if path.is_dir() and names and all(p in names for p in parents):
        y = np.asarray([names.index(p) for p in parents], dtype=np.int64)
    return RawInputs(x.astype(np.float32), y, {"path": [str(f) for f in files]})


def _arrays(path: Path, info: DataInfo, field: str) -> RawInputs:
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
    labels = None
    if y is not None:
        import pandas as pd

        labels = _labels(pd.DataFrame({"y": y}), "y", info, field)
    return RawInputs(x, labels, {"row": list(range(1, len(x) + 1))})


def example_frame(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any | None:
    """A few raw rows as the run's served model takes them (no target); None for image and array runs."""
    import pandas as pd

    pre = info.preprocessing
    kind = pre.get("kind")
    if kind == "builtin":
        x, _, _, features = load_arrays(pre["name"])
        return pd.DataFrame(x[:rows].reshape(rows, -1).astype(np.float64), columns=features)
    if kind not in ("csv", "text", "timeseries"):
        return None

    frame, _ = read_table(recipe.data, header=getattr(recipe.data, "header", True))
    if kind == "csv":
        keep = [*pre["numeric"], *pre["categorical"]]
    elif kind == "text":
        keep = [pre["text_column"]]
    else:
        keep = [pre["time_column"], *pre["columns"]]
        rows = int(pre["window"]) + 2
    columns = [_column(frame, c, "data.path", "input") for c in keep]
    example = frame[columns].head(rows).reset_index(drop=True)
    example.columns = [str(c) for c in example.columns]
    return example
