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
        if not path.is_file():  # a FIFO, a device: reading it could block or never end
            raise DataError(f"data.path: {path} is not a regular file", hint="copy the data into a file")
        if path.stat().st_size == 0:
            raise DataError(f"data.path: {path} is empty")
    return path


#: the image files an image folder holds
EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
AUDIO_EXTENSIONS = {".wav", ".wave", ".flac"}


def image_error(path: Path, error: Exception) -> DataError:
    """The message for an image Pillow refused: too many pixels to decode safely, or not decodable."""
    from PIL import Image

    if isinstance(error, Image.DecompressionBombError):
        return DataError(
            f"image {path} is too large to decode safely ({str(error).split(',')[0]})",
            hint="shrink or remove the file",
        )
    return DataError(f"image {path} cannot be decoded ({type(error).__name__})", hint="remove or replace the file")


def image_errors() -> tuple[type[Exception], ...]:
    """What Pillow raises for a file it cannot or will not decode (too many pixels included)."""
    from PIL import Image

    return (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def list_images(folder: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """Image files, their class codes and the class names (subfolder names, sorted)."""
    return class_files(folder, EXTENSIONS, "PNG/JPEG images")


def class_files(folder: Path, extensions: set[str], what: str) -> tuple[list[Path], np.ndarray, list[str]]:
    """The files of a folder with one subfolder per class: the files, their class codes, the class names."""
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"data.path: {folder} needs one subfolder per class (found {len(classes)})")
    files: list[Path] = []
    codes: list[int] = []
    for code, name in enumerate(classes):
        found = sorted(f for f in (folder / name).rglob("*") if f.suffix.lower() in extensions and f.is_file())
        if not found:
            raise DataError(f"data.path: class folder {folder / name} holds no {what}")
        files.extend(found)
        codes.extend([code] * len(found))
    return files, np.asarray(codes, dtype=np.int64), classes


def files_to_read(path: Path, extensions: set[str], what: str, field: str) -> list[Path]:
    """The file given, or every file of a folder (and its subfolders) with one of `extensions`."""
    files = (
        [path]
        if path.is_file()
        else sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in extensions)
    )
    if not files:
        raise DataError(f"{field}: {path} holds no {what}")
    return files


def folder_labels(path: Path, files: list[Path], names: list[str]) -> np.ndarray | None:
    """Class codes of files in subfolders named after the run's classes (labelled data), else None."""
    parents = [f.parent.name for f in files]
    if path.is_dir() and names and all(p in names for p in parents):
        return np.asarray([names.index(p) for p in parents], dtype=np.int64)
    return None


def default_sep(path: Path, sep: str | None) -> str:
    if sep is not None:
        return sep
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


PARQUET_SUFFIXES = (".parquet", ".pq")
#: checked for standard quoting before a tab-separated file is read (the rest is left to pandas)
_QUOTING_PROBE_BYTES = 64 * 1024 * 1024


def _quoting(path: Path, sep: str, encoding: str, choice: str) -> int:
    """csv.QUOTE_MINIMAL (standard quoting) or csv.QUOTE_NONE for the file.

    Comma files always use standard quoting. Tab files are written both ways: by spreadsheets and
    pandas with standard quoting (a field holding a tab, a line break or a quote is quoted), and by
    hand or by `cut` with quotes as ordinary characters (a message that starts with a quote and
    never closes it). With `auto`, standard quoting is used unless a field breaks its rules.
    """
    import csv

    if choice == "standard" or (choice == "auto" and sep != "\t"):
        return csv.QUOTE_MINIMAL
    if choice == "none":
        return csv.QUOTE_NONE
    with path.open("r", encoding=encoding, newline="") as f:
        head = f.read(_QUOTING_PROBE_BYTES)
    if '"' not in head:
        return csv.QUOTE_MINIMAL
    import io

    try:
        for _ in csv.reader(io.StringIO(head), delimiter=sep, strict=True):
            pass
    except csv.Error:
        return csv.QUOTE_NONE
    return csv.QUOTE_MINIMAL


def _line_end(path: Path) -> str | None:
    """ "\n" for a file whose lines end in LF but whose fields hold bare carriage returns (pandas writes
    a tweet's "\r" unquoted); None (any line end) otherwise, for CRLF and old Mac files."""
    with path.open("rb") as f:
        head = f.read(_QUOTING_PROBE_BYTES)
    bare = head.count(b"\r") - head.count(b"\r\n")
    return "\n" if bare > 0 and b"\n" in head and b"\r\n" not in head else None


def _header(path: Path, sep: str, encoding: str, quoting: int) -> list[str]:
    import csv

    with path.open("r", encoding=encoding, newline="") as f:
        return next(csv.reader(f, delimiter=sep, quoting=quoting), [])  # type: ignore[arg-type]


def _check_unique(names: list[str], path: Path, field: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{field}: {path} has two columns named '{name}'",
                hint="rename one of them; dlkit names columns by their header",
            )
        seen.add(name)


def read_table(
    params: Any, *, header: bool = True, path: Path | None = None, field: str = "data.path"
) -> tuple[Any, Path]:
    """A pandas DataFrame from `params.path` (CSV, TSV or Parquet) with the recipe's separator, header and encoding."""
    import csv

    import pandas as pd

    path = path or existing(params.path)
    if not path.is_file():
        raise DataError(f"{field}: {path} is not a regular file", hint="copy the data into a file")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _read_parquet(path, field), path
    sep = default_sep(path, getattr(params, "sep", None))
    encoding = getattr(params, "encoding", "utf-8")
    try:
        quoting = _quoting(path, sep, encoding, getattr(params, "quoting", "auto"))
        if header:
            _check_unique([name.strip() for name in _header(path, sep, encoding, quoting)], path, field)
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            encoding=encoding,
            quoting=quoting,
            skipinitialspace=sep != "\t",
            lineterminator=_line_end(path),
        )
    except UnicodeDecodeError:
        raise DataError(
            f"{field}: {path} is not valid {encoding} text ({_first_bad_line(path, encoding)})",
            hint="re-save it as UTF-8, or set data.encoding (e.g. latin-1 or cp1252)",
        ) from None
    except LookupError:
        raise DataError(f"data.encoding: unknown encoding '{encoding}'") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{field}: {path} has no data") from None
    except (pd.errors.ParserError, csv.Error) as e:
        raise DataError(
            f"{field}: {path} is not a valid table: {str(e).strip().splitlines()[-1]}", hint="check data.sep"
        ) from None
    if not header:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    else:
        frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{field}: {path} has a header but no rows")
    return frame, path


def _read_parquet(path: Path, field: str) -> Any:
    import pandas as pd

    try:
        import pyarrow.parquet as pq

        names = [str(n) for n in pq.read_schema(path).names]
        _check_unique(names, path, field)
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise DataError(f"{field}: {path} is not a readable Parquet file ({str(e).splitlines()[0]})") from None
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{field}: {path} has no rows")
    return frame


def empty_columns(frame: Any, columns: list[str]) -> list[str]:
    """The columns that hold no value in any row."""
    return [c for c in columns if frame[c].isna().all()]


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
