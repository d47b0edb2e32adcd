"""Metrics by group (task.report_by, `dlkit evaluate --by`): a model's test metrics within each group of a
column (sex, region, age band), the positive rate and calibration per group, and the largest gap between
groups, as a table, a figure and metrics. A column need not be a feature: a sensitive column left out of the
inputs with data.drop is read from the raw rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit import metric_names as m
from dlkit import reports
from dlkit.calibration import calibration_bins

#: groups with fewer test rows are listed, but left out of the gaps: one or two rows make any gap
MIN_ROWS = 5
#: what is a property of the data, not of the model: in the table, never in a gap
DATA_COLUMNS = ("rows", "base_rate")


@dataclass
class GroupScores:
    """One column's groups: a row per group (its name, rows and each measure) and the gap of each measure."""

    column: str
    rows: list[dict[str, Any]]
    #: measure -> (largest - smallest value, the group with the smallest, the group with the largest)
    gaps: dict[str, tuple[float, str, str]]

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for row in self.rows:
            for key, value in row.items():
                if key != "group" and np.isfinite(value):
                    out[m.by_group(self.column, row["group"], key)] = float(value)
        out.update({m.gap(self.column, key): gap for key, (gap, _, _) in self.gaps.items()})
        return out


def _classification(target: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    pred = probs.argmax(axis=1)
    row: dict[str, float] = {
        "acc": float((pred == target).mean()),
        "f1_macro": float(f1_score(target, pred, average="macro", zero_division=0)),
        "ece": calibration_bins(target, probs, m.ECE_BINS)[1],
    }
    if probs.shape[1] == 2:  # the second class is the positive one, as in the ROC curve
        positive, negative = target == 1, target == 0
        row["positive_rate"] = float((pred == 1).mean())
        row["base_rate"] = float(positive.mean())
        row["mean_probability"] = float(probs[:, 1].mean())
        row["tpr"] = float((pred[positive] == 1).mean()) if positive.any() else float("nan")
        row["fpr"] = float((pred[negative] == 1).mean()) if negative.any() else float("nan")
    return row


def _regression(target: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    error = pred.reshape(len(pred), -1) - target.reshape(len(target), -1)
    spread = float(((target - target.mean(axis=0)) ** 2).sum())
    return {
        "rmse": float(np.sqrt((error**2).mean())),
        "mae": float(np.abs(error).mean()),
        "r2": 1.0 - float((error**2).sum()) / spread if spread > 0 else float("nan"),
        "mean_error": float(error.mean()),
    }


def score(column: str, groups: np.ndarray, target: np.ndarray, outputs: np.ndarray, classes: bool) -> GroupScores:
    """Every measure within each group (most rows first). `outputs`: class probabilities when `classes`,
    else predictions in the target's units."""
    names, counts = np.unique(groups, return_counts=True)
    rows: list[dict[str, Any]] = []
    for name in names[np.argsort(-counts, kind="stable")]:
        inside = groups == name
        measured = (_classification if classes else _regression)(target[inside], outputs[inside])
        rows.append({"group": str(name), "rows": int(inside.sum()), **measured})
    gaps: dict[str, tuple[float, str, str]] = {}
    counted = [r for r in rows if r["rows"] >= MIN_ROWS]
    for key in rows[0] if rows else {}:
        if key in ("group", *DATA_COLUMNS):
            continue
        values = [(r[key], r["group"]) for r in counted if np.isfinite(r[key])]
        if len(values) >= 2:
            low, high = min(values), max(values)
            gaps[key] = (high[0] - low[0], low[1], high[1])
    return GroupScores(column, rows, gaps)


def test_scores(task: Any, groups: Mapping[str, np.ndarray], test_index: np.ndarray) -> list[GroupScores]:
    """Each column's groups over the test split the task has just been tested on (none when it has no scores)."""
    scored = task.scored_test() if groups else None
    if scored is None:
        return []
    target, outputs, classes = scored
    return [score(column, values[test_index], target, outputs, classes) for column, values in groups.items()]


def metrics(scores: list[GroupScores]) -> dict[str, float]:
    return {k: v for s in scores for k, v in s.metrics().items()}


def write(folder: Path, scores: GroupScores) -> dict[str, Path]:
    """by_group/<column>.csv (a row per group) and by_group/<column>.png (each measure per group)."""
    import pandas as pd

    plt = reports.pyplot()
    out = folder / "by_group"
    out.mkdir(exist_ok=True)
    safe = m.safe_part(scores.column)
    paths = {"table": out / f"{safe}.csv", "figure": out / f"{safe}.png"}
    pd.DataFrame(scores.rows).to_csv(paths["table"], index=False)
    measures = [k for k in scores.rows[0] if k not in ("group", "rows")] if scores.rows else []
    across = min(len(measures), 4) or 1
    down = -(-len(measures) // across) or 1
    tall = 0.35 * len(scores.rows) + 1.2
    fig, axes = plt.subplots(down, across, figsize=(3.2 * across, tall * down), squeeze=False)
    groups = [f"{r['group']} ({r['rows']})" for r in scores.rows]
    for i, ax in enumerate(axes.flat):
        if i >= len(measures):
            ax.set_visible(False)
            continue
        key = measures[i]
        ax.barh(groups, [r[key] for r in scores.rows], color="tab:blue")
        gap = scores.gaps.get(key)
        ax.set_title(key if gap is None else f"{key} (gap {gap[0]:.3f})", fontsize=9)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
        if i % across:
            ax.set_yticklabels([])
    fig.suptitle(f"Test metrics by {scores.column} (rows per group)", fontsize=10)
    fig.tight_layout()
    fig.savefig(paths["figure"], dpi=110)
    plt.close(fig)
    return paths
