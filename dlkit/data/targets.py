"""The target column: unlabelled and too-rare rows, class codes and names, numeric targets within range."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.errors import DataError


def without_unlabeled(frame: Any, target: str, drop: bool, notes: list[str]) -> Any:
    """The rows whose target is present; a note says how many were dropped (or an error, with drop off)."""
    empty = frame[target].isna()
    if frame[target].dtype == object:  # a cell of spaces is as empty as a missing one
        empty |= frame[target].astype(str).str.strip().eq("")
    if not empty.any():
        return frame
    if empty.all():
        raise DataError(f"data.target: column '{target}' is empty in every row", hint="check data.target")
    if not drop:
        row = int(np.flatnonzero(empty.to_numpy())[0]) + 1
        raise DataError(
            f"data.target: the target is missing in {int(empty.sum())} row(s), first data row {row}",
            hint="set data.drop_unlabeled: true, or fill the target",
        )
    notes.append(f"dropped {int(empty.sum())} row(s) with an empty target '{target}' (data.drop_unlabeled)")
    return frame[~empty.to_numpy()].reset_index(drop=True)


#: rows a class needs for a stratified train/val/test split
MIN_CLASS_ROWS = 3


def without_rare_classes(frame: Any, target: str, how: str, notes: list[str]) -> Any:
    """With `how` drop: the rows of classes too rare to split, left out with a note."""
    if how != "drop":
        return frame
    counts = frame[target].astype(str).value_counts()
    rare = counts[counts < MIN_CLASS_ROWS]
    if rare.empty:
        return frame
    keep = ~frame[target].astype(str).isin(rare.index)
    notes.append(
        f"left out {len(rare)} class(es) with fewer than {MIN_CLASS_ROWS} rows ({int((~keep).sum())} rows): "
        + ", ".join(repr(c) for c in rare.index[:5])
        + (" ..." if len(rare) > 5 else "")
    )
    return frame[keep.to_numpy()].reset_index(drop=True)


def target_values(
    frame: Any,
    target: str,
    task: Any,
    field: str = "data.target",
    labels_hint: str = "use task: classification for labels",
) -> tuple[np.ndarray, list[str] | None]:
    """Class codes and names for a labelled task, or the target's numbers (refused when they are not,
    naming `field`, and `labels_hint` for labels)."""
    import pandas as pd

    if task.labelled:
        return encode_labels(frame[target], field)
    if not pd.api.types.is_numeric_dtype(frame[target]):
        raise DataError(
            f"{field}: column '{target}' is not numeric; task {task.kind} needs numbers",
            hint=labels_hint,
        )
    values = frame[target].to_numpy(np.float64)
    check_target_range(values, target, field)
    return values.astype(np.float32), None


#: the largest target magnitude: the 32-bit error metrics add up squares of targets over up to a
#: million rows, and (1e15)^2 * 1e6 stays below float32's 3.4e38
MAX_TARGET = 1e15


def check_target_range(values: np.ndarray, target: str, field: str = "data.target") -> None:
    """Refuse a numeric target with a non-finite value or one so large that its squared errors overflow."""
    with np.errstate(invalid="ignore"):
        bad = np.isinf(values) | (np.abs(values) > MAX_TARGET)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{field}: column '{target}' holds {values[row]:g} in data row {row + 1}; "
            f"targets must lie within +-{MAX_TARGET:g}",
            hint="rescale the target (e.g. to millions)",
        )


def labelled_rows(frame: Any, target: str, params: Any, task: Any, notes: list[str]) -> Any:
    """The rows to learn from: without an empty target (data.drop_unlabeled) or a too rare class (data.rare_classes)."""
    frame = without_unlabeled(frame, target, params.drop_unlabeled, notes)
    return without_rare_classes(frame, target, params.rare_classes, notes) if task.labelled else frame


def encode_labels(values: Any, field: str) -> tuple[np.ndarray, list[str]]:
    """Class codes 0..K-1 and the class names (numbers sorted numerically, text sorted alphabetically)."""
    import pandas as pd

    series = pd.Series(values)
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0]) + 1
        raise DataError(
            f"{field}: the target is missing in data row {row}",
            hint="set data.drop_unlabeled: true, or fill the target",
        )
    uniques = series.unique()
    if pd.api.types.is_float_dtype(series) and len(uniques) > 20 and not np.all(np.mod(uniques, 1) == 0):
        example = next(v for v in uniques if v % 1)
        raise DataError(
            f"{field}: the target holds {len(uniques)} distinct fractional numbers (e.g. {example:g}), not classes",
            hint="use task: regression",
        )
    try:
        ordered = sorted(uniques, key=lambda v: float(v))
    except (TypeError, ValueError):
        ordered = sorted(uniques, key=str)
    names = [_label_name(v) for v in ordered]
    return pd.Index(ordered, dtype=object).get_indexer(series.astype(object)).astype(np.int64), names


def _label_name(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
