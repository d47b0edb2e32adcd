"""The task a target calls for, and the settings that suit it: classes and their balance, a skewed target."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dlkit.data import columns as cols
from dlkit.data.infer.common import IMBALANCE, Draft

#: a numeric target with at most this many distinct whole numbers is a set of classes
MAX_CODED_CLASSES = 10
#: sample skewness above which a positive regression target is fitted on log(1 + y)
SKEWED = 1.0


def task_kind(series: Any) -> str:
    present = series.dropna()
    if not cols.is_numeric(present) or pd.api.types.is_bool_dtype(present):
        return "classification"
    values = present.to_numpy(np.float64)
    if np.all(np.mod(values, 1) == 0) and present.nunique() <= MAX_CODED_CLASSES:
        return "classification"
    return "regression"


def target_summary(d: Draft, series: Any, task: str) -> None:
    present = series.dropna()
    missing = len(series) - len(present)
    if missing:
        d.notes.append(f"{missing} row(s) have no '{series.name}'; they are left out (data.drop_unlabeled)")
    if task == "classification":
        counts = present.astype(str).value_counts()
        shown = ", ".join(f"{k} {v} ({v / len(present):.0%})" for k, v in counts.head(6).items())
        more = f", ... ({len(counts)} classes)" if len(counts) > 6 else ""
        d.summary.append(f"target '{series.name}': {len(counts)} classes: {shown}{more}")
        return
    v = present.to_numpy(np.float64)
    d.summary.append(
        f"target '{series.name}': numbers from {v.min():.4g} to {v.max():.4g}, median {np.median(v):.4g}, "
        f"skew {skew(v):.2f}"
    )


def skew(v: np.ndarray) -> float:
    sd = v.std()
    return float(((v - v.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0


def target(d: Draft, series: Any) -> tuple[str, dict[str, Any]]:
    """The task the target calls for, and its inferred settings; the target's line of the summary."""
    kind = task_kind(series)
    target_summary(d, series, kind)
    return kind, classification(d, series) if kind == "classification" else regression(d, series)


def classification(d: Draft, series: Any) -> dict[str, Any]:
    counts = series.dropna().astype(str).value_counts()
    task: dict[str, Any] = {"kind": "classification"}
    if counts.iloc[0] > 0.95 * counts.sum():
        d.warnings.append(
            f"'{counts.index[0]}' is {counts.iloc[0] / counts.sum():.0%} of the rows: accuracy says little, "
            "read the macro F1 and the per-class scores"
        )
    if counts.iloc[-1] < IMBALANCE * counts.iloc[0]:
        task["class_weights"] = "balanced"
        d.note(
            ("task", "class_weights"),
            f"'{counts.index[-1]}' has {counts.iloc[-1]} rows, '{counts.index[0]}' {counts.iloc[0]}",
        )
    rare = counts[counts < 3]
    if len(rare):
        d.notes.append(
            f"{len(rare)} class(es) with fewer than 3 rows are left out ({', '.join(map(str, rare.index[:5]))}): "
            "a stratified split needs 3 (data.rare_classes: drop)"
        )
    return task


def regression(d: Draft, series: Any) -> dict[str, Any]:
    v = series.dropna().to_numpy(np.float64)
    if v.min() >= 0 and skew(v) > SKEWED:
        d.note(("task", "target_transform"), f"the target is positive and skewed ({skew(v):.1f}): fit log(1 + y)")
        return {"kind": "regression", "target_transform": "log1p"}
    d.note(("task", "target_transform"), "standardised while fitting; log1p suits skewed positive targets")
    return {"kind": "regression", "target_transform": "standard"}
