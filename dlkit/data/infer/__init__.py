"""A recipe from the data: `dlkit train FILE --target COL` and `dlkit init`.

The file (or folder) decides the data kind, the target the task, the columns their roles, and the
data's size the model's width and the batch size. Every choice is written into an ordinary recipe,
commented, so that a user can read why and override it (`key=value`); what dlkit dropped or
changed is printed as a note, and a short summary of the data is printed before training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlkit.data.files import AUDIO_EXTENSIONS, PARQUET_SUFFIXES, column, read_table
from dlkit.data.infer import folders, ratings, series, tables, texts
from dlkit.data.infer.common import Draft
from dlkit.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", *PARQUET_SUFFIXES)
DATA_SUFFIXES = (*TABLE_SUFFIXES, ".npz")

__all__ = ["DATA_SUFFIXES", "TABLE_SUFFIXES", "Draft", "draft", "is_data_path"]


def is_data_path(text: str) -> bool:
    """Whether a `dlkit train` argument names data (a table, an .npz, a folder) rather than a recipe (an empty
    argument is neither: the recipe lookup refuses it, instead of reading the working folder)."""
    if not text.strip():
        return False
    path = Path(text).expanduser()
    if path.is_dir():
        return True
    return path.suffix.lower() in DATA_SUFFIXES


def draft(
    path_text: str,
    target: str | None,
    time: list[str] | None = None,
    text: str | None = None,
    name: str | None = None,
    split: str | None = None,
    drop: list[str] | None = None,
    interactions: tuple[str, str] | None = None,
) -> Draft:
    """The recipe dlkit infers for a file or folder; `split`: the column that marks each row's split
    (data.split_column given as an override), never an input; `drop`: columns the user leaves out of a
    table's inputs (data.drop given as an override), dropped besides those dlkit drops; `interactions`:
    the user and item columns of a table of interactions (a recommender; `target`, if any, the rating)."""
    path = Path(path_text).expanduser().resolve()
    if not path.exists():
        raise DataError(
            f"{path_text} does not exist",
            hint="give a CSV/TSV/Parquet file, an .npz, or a folder of images or WAV clips",
        )
    stem = name or _name(path)
    if path.is_dir():
        sound = folders.holds_sound(path)
        if target is not None or time:
            what = "a folder of sound clips" if sound else "an image folder"
            raise DataError(f"--target: {path} is {what}; its subfolders are the classes, give no --target")
        return folders.sounds(path, stem) if sound else folders.images(path, stem)
    if path.suffix.lower() == ".npz":
        return folders.arrays(path, stem)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"{path}: not a table (.csv, .tsv, .parquet), an .npz or a folder")
    frame, _ = read_table(None, path=path, field="data file")
    if interactions is not None:
        if time or text:
            raise DataError(f"--{'time' if time else 'text'}: a table of interactions (--user, --item) takes neither")
        user, item = column(frame, interactions[0], "--user"), column(frame, interactions[1], "--item")
        rating = column(frame, target, "--target") if target is not None else None
        return ratings.ratings(path, stem, frame, user, item, rating)
    if target is None:
        shown = ", ".join(str(c) for c in list(frame.columns)[:12])
        raise DataError(f"--target: give the column to predict; {path.name} has {shown}")
    if target not in frame.columns and "," in target:  # --target a,b: several targets (a name with a comma is one)
        names = [column(frame, c.strip(), "--target") for c in target.split(",") if c.strip()]
        if len(names) > 1:
            if time or text:
                raise DataError("--target: several targets are for tables; give one with --time or --text")
            split_col = column(frame, split, "data.split_column") if split else None
            return tables.table(path, stem, frame, names, split_col)
    target_col = column(frame, target, "--target")
    if time:
        return series.series(path, stem, frame, target_col, [column(frame, t, "--time") for t in time])
    split_col = column(frame, split, "data.split_column") if split else None
    clips = [c for c in frame.columns if c not in (target_col, split_col) and not text
             and tables.names_files(frame[c].dropna(), path.parent, AUDIO_EXTENSIONS)]  # fmt: skip
    if clips:
        marked = [
            c for c in frame.columns if c not in (target_col, clips[0]) and tables.marks_splits(frame[c].dropna())
        ]
        split_col = split_col or (marked[0] if marked else None)
        return folders.sound_table(path, stem, frame, target_col, clips[0], split_col)
    text_col = column(frame, text, "--text") if text else _only_text(frame, target_col, split_col, path.parent)
    if text_col is not None:
        return texts.text(path, stem, frame, target_col, text_col)
    left_out = [column(frame, c, "data.drop") for c in drop or []]
    found = tables.table(path, stem, frame.drop(columns=left_out), target_col, split_col)
    found.recipe["data"]["drop"] = [*left_out, *found.recipe["data"]["drop"]]
    return found


def _name(path: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem if path.is_file() else path.name).strip("-") or "data"


def _only_text(frame: Any, target: str, split: str | None, folder: Path) -> str | None:
    """The longest free-text column when free text is all the table holds (a text model reads it); a table
    with numbers, categories or dates beside its text is a table (its text columns in data.text)."""
    roles = tables.column_roles(frame, target, Draft({}), split, folder)
    if not roles["text"] or any(roles[k] for k in ("numeric", "boolean", "categorical", "date", "image")):
        return None
    return max(roles["text"], key=lambda c: frame[c].dropna().astype(str).str.len().mean())  # type: ignore[no-any-return]
