"""Reading the user's files: clear errors for missing, empty, mis-encoded files and unknown columns."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.errors import DataError


def existing(path_text: str, *, folder: bool = False) -> Path:
    """The path, checked to exist (and to be a non-empty file or a folder)."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise DataError(
            f"data.path: {path} does not exist", hint="fix data.path, or pass data.path=... on the command line"
        )
    if folder and not path.is_dir():
        raise DataError(f"data.path: {path} is a file; this data kind needs a folder")
    if not folder:
        if path.is_dir():
            raise DataError(f"data.path: {path} is a folder; this data kind needs a file")
        if path.stat().st_size == 0:
            raise DataError(f"data.path: {path} is empty")
    return path


def default_sep(path: Path, sep: str | None) -> str:
    if sep is not None:
        return sep
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


def read_table(params: Any, *, header: bool = True) -> tuple[Any, Path]:
    """A pandas DataFrame from `params.path` with the recipe's separator, header and encoding."""
    import csv

    import pandas as pd

    path = existing(params.path)
    sep = default_sep(path, getattr(params, "sep", None))
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            encoding=params.encoding,
            # tab-separated text files hold quotes as ordinary characters
            quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL,
            skipinitialspace=sep != "\t",
        )
    except UnicodeDecodeError:
        raise DataError(
            f"data.path: {path} is not valid {params.encoding} text ({_first_bad_line(path, params.encoding)})",
            hint="re-save it as UTF-8, or set data.encoding (e.g. latin-1)",
        ) from None
    except LookupError:
        raise DataError(f"data.encoding: unknown encoding '{params.encoding}'") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"data.path: {path} has no data") from None
    except pd.errors.ParserError as e:
        raise DataError(
            f"data.path: {path} is not a valid table: {str(e).strip().splitlines()[-1]}", hint="check data.sep"
        ) from None
    if not header:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    else:
        frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"data.path: {path} has a header but no rows")
    return frame, path


def _first_bad_line(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        return f"line {line}, byte {e.start}"
    return "undecodable"


def column(frame: Any, spec: str | int, field: str) -> str:
    """The name of the column that `spec` (name, or position with negatives from the end) designates."""
    names = [str(c) for c in frame.columns]
    if isinstance(spec, int) and not isinstance(spec, bool):
        if -len(names) <= spec < len(names):
            return names[spec]
        raise DataError(f"{field}: column position {spec} is out of range; the file has {len(names)} columns")
    if spec in names:
        return str(spec)
    close = difflib.get_close_matches(str(spec), names, n=1)
    suggestion = f"did you mean '{close[0]}'? " if close else ""
    shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
    raise DataError(f"{field}: no column '{spec}'; {suggestion}columns: {shown}")


def missing_report(frame: Any, columns: list[str]) -> str | None:
    """'column x: rows 3, 17, 40' for the first column with missing values, else None."""
    for name in columns:
        rows = np.flatnonzero(frame[name].isna().to_numpy())
        if len(rows):
            first = ", ".join(str(r + 1) for r in rows[:5])
            return (
                f"column '{name}' has {len(rows)} missing value(s) (data rows {first}{' ...' if len(rows) > 5 else ''})"
            )
    return None


def encode_labels(values: Any, field: str) -> tuple[np.ndarray, list[str]]:
    """Class codes 0..K-1 and the class names (numbers sorted numerically, text sorted alphabetically)."""
    import pandas as pd

    series = pd.Series(values)
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0]) + 1
        raise DataError(f"{field}: the target is missing in data row {row}", hint="drop unlabelled rows")
    uniques = series.unique()
    try:
        ordered = sorted(uniques, key=lambda v: float(v))
    except (TypeError, ValueError):
        ordered = sorted(uniques, key=str)
    names = [_label_name(v) for v in ordered]
    lookup = {v: i for i, v in enumerate(ordered)}
    return np.asarray([lookup[v] for v in series], dtype=np.int64), names


def _label_name(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
