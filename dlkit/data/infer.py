"""A recipe from the data: `dlkit train FILE --target COL` and `dlkit init`.

The file (or folder) decides the data kind, the target the task, the columns their roles, and the
data's size the model's width and the batch size. Every choice is written into an ordinary recipe,
commented, so that a user can read why and override it (`key=value`); what dlkit dropped or
changed is printed as a note, and a short summary of the data is printed before training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlkit.data import columns as cols
from dlkit.data.files import PARQUET_SUFFIXES, column, read_table
from dlkit.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", *PARQUET_SUFFIXES)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
DATA_SUFFIXES = (*TABLE_SUFFIXES, ".npz")
#: a numeric target with at most this many distinct whole numbers is a set of classes
MAX_CODED_CLASSES = 10
#: a category column with more distinct values than this and than half the rows names rows, not groups
MAX_CATEGORY_SHARE = 0.5
#: the smallest class under this share of the largest: the loss weighs classes by inverse frequency
IMBALANCE = 1 / 3
#: sample skewness above which a positive regression target is fitted on log(1 + y)
SKEWED = 1.0
#: the seasons of regular series, by step
SEASONS = {"h": 24, "D": 7, "W": 52, "M": 12, "Q": 4}


@dataclass
class Draft:
    """An inferred recipe (plain data), its comments, the data summary and the notes on what was chosen."""

    recipe: dict[str, Any]
    comments: dict[tuple[str, ...], str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, keys: tuple[str, ...], comment: str) -> None:
        self.comments[keys] = comment


def is_data_path(text: str) -> bool:
    """Whether a `dlkit train` argument names data (a table, an .npz, a folder) rather than a recipe."""
    path = Path(text).expanduser()
    if path.is_dir():
        return True
    return path.suffix.lower() in DATA_SUFFIXES


def draft(
    path_text: str, target: str | None, time: list[str] | None = None, text: str | None = None, name: str | None = None
) -> Draft:
    """The recipe dlkit infers for a file or folder."""
    path = Path(path_text).expanduser().resolve()
    if not path.exists():
        raise DataError(f"{path_text} does not exist", hint="give a CSV/TSV/Parquet file, an .npz or an image folder")
    stem = name or _name(path)
    if path.is_dir():
        if target is not None or time:
            raise DataError(f"--target: {path} is an image folder; its subfolders are the classes, give no --target")
        return _images(path, stem)
    if path.suffix.lower() == ".npz":
        return _arrays(path, stem)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"{path}: not a table (.csv, .tsv, .parquet), an .npz or a folder")
    frame, _ = read_table(None, path=path, field=str(path))
    if target is None:
        shown = ", ".join(str(c) for c in list(frame.columns)[:12])
        raise DataError(f"--target: give the column to predict; {path.name} has {shown}")
    target_col = column(frame, target, "--target")
    if time:
        return _series(path, stem, frame, target_col, [column(frame, t, "--time") for t in time])
    text_col = column(frame, text, "--text") if text else _free_text(frame, target_col)
    if text_col is not None:
        return _text(path, stem, frame, target_col, text_col)
    return _table(path, stem, frame, target_col)


def _name(path: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem if path.is_file() else path.name).strip("-") or "data"


def _base(name: str, source: Path) -> dict[str, Any]:
    return {"name": name, "description": f"Inferred by dlkit from {source.name}."}


def _free_text(frame: Any, target: str) -> str | None:
    """The longest free-text column, if the table has one."""
    texts = [c for c in frame.columns if c != target and cols.is_free_text(frame[c])]
    if not texts:
        return None
    return max(texts, key=lambda c: frame[c].dropna().astype(str).str.len().mean())


# --- targets ----------------------------------------------------------------------------------


def _task(series: Any) -> str:
    present = series.dropna()
    if not cols.is_numeric(present) or pd.api.types.is_bool_dtype(present):
        return "classification"
    values = present.to_numpy(np.float64)
    if np.all(np.mod(values, 1) == 0) and present.nunique() <= MAX_CODED_CLASSES:
        return "classification"
    return "regression"


def _target_summary(d: Draft, series: Any, task: str) -> None:
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
        f"skew {_skew(v):.2f}"
    )


def _skew(v: np.ndarray) -> float:
    sd = v.std()
    return float(((v - v.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0


def _target(d: Draft, series: Any) -> tuple[str, dict[str, Any]]:
    """The task the target calls for, and its inferred settings; the target's line of the summary."""
    kind = _task(series)
    _target_summary(d, series, kind)
    return kind, _classification(d, series) if kind == "classification" else _regression(d, series)


def _classification(d: Draft, series: Any) -> dict[str, Any]:
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


def _regression(d: Draft, series: Any) -> dict[str, Any]:
    v = series.dropna().to_numpy(np.float64)
    if v.min() >= 0 and _skew(v) > SKEWED:
        d.note(("task", "target_transform"), f"the target is positive and skewed ({_skew(v):.1f}): fit log(1 + y)")
        return {"kind": "regression", "target_transform": "log1p"}
    d.note(("task", "target_transform"), "standardised while fitting; log1p suits skewed positive targets")
    return {"kind": "regression", "target_transform": "standard"}


# --- tables -----------------------------------------------------------------------------------


def _roles(frame: Any, target: str, d: Draft) -> dict[str, list[str]]:
    """Each column but the target in one role: numeric, categorical, date, text, or dropped."""
    roles: dict[str, list[str]] = {k: [] for k in ("numeric", "boolean", "categorical", "date", "text", "drop")}
    n = len(frame)
    for name in frame.columns:
        if name == target:
            continue
        s = frame[name]
        present = s.dropna()
        if present.empty:
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' is empty in every row: dropped")
        elif present.nunique() == 1:
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' holds one value ({present.iloc[0]!r}): dropped")
        elif cols.is_identifier(s, str(name)):
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' has a distinct value in every row (an identifier): dropped")
        elif cols.looks_like_dates(s):
            roles["date"].append(name)
        elif cols.is_numeric(s):
            roles["boolean" if present.nunique() == 2 else "numeric"].append(name)
        elif cols.is_free_text(s):
            roles["text"].append(name)
        elif present.nunique() > max(100, MAX_CATEGORY_SHARE * n):
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' has {present.nunique()} distinct values in {n} rows: dropped")
        else:
            roles["boolean" if present.nunique() == 2 else "categorical"].append(name)
    return roles


def _missing(frame: Any, used: list[str]) -> tuple[int, list[str]]:
    counts = frame[used].isna().sum()
    return int(counts.sum()), [f"{c} ({n})" for c, n in counts[counts > 0].sort_values(ascending=False).items()]


def _width(rows: int) -> list[int]:
    if rows < 1000:
        return [64, 32]
    if rows < 10_000:
        return [128, 64]
    return [256, 128]


def _batch(rows: int) -> int:
    return 32 if rows < 2000 else 64 if rows < 20_000 else 256


def _table(path: Path, name: str, frame: Any, target: str) -> Draft:
    d = Draft(_base(name, path))
    roles = _roles(frame, target, d)
    if roles["text"]:
        d.notes.append(
            f"free-text column(s) {', '.join(roles['text'])} are not used by a table model: dropped "
            "(--text COL trains on one text column instead)"
        )
    categorical = [c for c in roles["categorical"] + roles["boolean"] if not cols.is_numeric(frame[c])]
    used = roles["numeric"] + roles["boolean"] + roles["categorical"] + roles["date"]
    if not used:
        raise DataError(f"{path.name}: no column besides '{target}' can be an input", hint="check the file")
    rows = len(frame)
    d.summary.append(f"{path.name}: {rows} rows, {frame.shape[1]} columns")
    d.summary.append(
        "inputs: "
        + ", ".join(f"{len(roles[k])} {k}" for k in ("numeric", "boolean", "categorical", "date") if roles[k])
        + (f"; dropped {len(roles['drop']) + len(roles['text'])}" if roles["drop"] or roles["text"] else "")
    )
    if rows < 500:
        d.warnings.append(f"{rows} rows: test metrics of so small a table vary from one split to the next")
    missing, where = _missing(frame, used)
    if missing > 0.3 * rows * len(used):
        d.warnings.append(f"{missing / (rows * len(used)):.0%} of the input cells are empty and get imputed")
    if missing:
        d.summary.append(
            f"missing cells: {missing} ({missing / (rows * len(used)):.1%}), in {', '.join(where[:5])}"
            + (" ..." if len(where) > 5 else "")
        )
    task_kind, task = _target(d, frame[target])
    data: dict[str, Any] = {
        "kind": "csv",
        "path": str(path),
        "target": target,
        "categorical": categorical,
        "dates": roles["date"],
        "drop": roles["drop"] + roles["text"],
        "impute": "median",
        "numeric_encoding": "piecewise",
        "batch_size": _batch(rows),
    }
    if task_kind == "classification":
        data["rare_classes"] = "drop"
    d.note(("data", "categorical"), "text columns with few values: one 0/1 input per category")
    if roles["date"]:
        d.note(("data", "dates"), "expanded into year, month, day, day of week, day of year")
    d.note(("data", "impute"), "missing numbers: the training median; categories: the most frequent")
    d.note(("data", "numeric_encoding"), "one input per quantile bin: thresholds as a tree finds them, robust to skew")
    hidden = _width(rows)
    d.note(("model", "hidden"), f"sized for {rows} rows")
    # weighted classes: the loss is not what is wanted, the balance of precision and recall is
    monitor = "val/f1_macro" if "class_weights" in task else "val/loss"
    if "class_weights" in task:
        d.note(("trainer", "monitor"), "imbalanced classes: keep the epoch with the best macro F1")
    d.recipe.update(
        task=task,
        data=data,
        model={"arch": "mlp", "hidden": hidden, "dropout": 0.1},
        optim=_optim(1e-3, 1e-4),
        trainer=_trainer(200, 20, monitor),
        tracking={"experiment": "dlkit-tables"},
        tune=_tune(
            {
                "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "optim.weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
                "model.hidden": {"type": "categorical", "choices": [[64], [128, 64], [256, 128], [256, 128, 64]]},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.4},
            },
            monitor,
        ),
    )
    return d


def _optim(lr: float, weight_decay: float) -> dict[str, Any]:
    return {
        "name": "adamw",
        "lr": lr,
        "weight_decay": weight_decay,
        "scheduler": {"name": "plateau", "patience": 5, "gamma": 0.5},
    }


def _trainer(epochs: int, patience: int, monitor: str = "val/loss") -> dict[str, Any]:
    return {"max_epochs": epochs, "monitor": monitor, "early_stopping": {"patience": patience}, "seed": 0}


def _tune(space: dict[str, Any], metric: str = "val/loss") -> dict[str, Any]:
    return {"space": space, "metric": metric, "sampler": "tpe", "pruner": "median", "trials": 20}


# --- texts ------------------------------------------------------------------------------------


def _text(path: Path, name: str, frame: Any, target: str, text_col: str) -> Draft:
    from dlkit.data.text import tokenize

    d = Draft(_base(name, path))
    texts = frame[text_col].dropna().astype(str)
    lengths = np.asarray([len(tokenize(t, "word", True)) for t in texts.head(20_000)])
    max_length = int(min(512, max(16, 2 ** math.ceil(math.log2(max(1.0, np.percentile(lengths, 95)))))))
    others = [c for c in frame.columns if c not in (target, text_col)]
    d.summary.append(f"{path.name}: {len(frame)} rows; texts in '{text_col}', {np.median(lengths):.0f} words median")
    if others:
        d.notes.append(
            f"data.kind text reads '{text_col}' only; not used: {', '.join(map(str, others[:8]))}"
            + (" ..." if len(others) > 8 else "")
        )
    task_kind, task = _target(d, frame[target])
    data: dict[str, Any] = {
        "kind": "text",
        "path": str(path),
        "text_column": text_col,
        "target": target,
        "tokenizer": "word",
        "min_freq": 2 if len(frame) > 2000 else 1,
        "max_length": max_length,
        "batch_size": 64,
    }
    if task_kind == "classification":
        data["rare_classes"] = "drop"
    d.note(("data", "max_length"), f"95 % of the texts have at most {int(np.percentile(lengths, 95))} tokens")
    monitor = "val/f1_macro" if task_kind == "classification" else "val/loss"
    d.recipe.update(
        task=task,
        data=data,
        model={
            "arch": "gru",
            "embedding_dim": 64,
            "hidden_size": 64,
            "bidirectional": True,
            "pooling": "max",
            "dropout": 0.2,
        },
        optim=_optim(3e-3, 0.0),
        trainer=_trainer(30, 5, monitor),
        tracking={"experiment": "dlkit-text"},
        tune=_tune(
            {
                "optim.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                "model.hidden_size": {"type": "categorical", "choices": [32, 64, 128]},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
            },
            monitor,
        ),
    )
    return d


# --- series -----------------------------------------------------------------------------------


def _step_season(times: Any) -> tuple[str, int | None]:
    """The series' step in words and its season in steps (None when the step has none)."""
    if pd.api.types.is_numeric_dtype(times):
        step = float(np.median(np.diff(np.sort(times.to_numpy(np.float64)))))
        for per_year, (word, season) in {
            12: ("month", 12),
            4: ("quarter", 4),
            52: ("week", 52),
            1: ("year", None),
        }.items():
            if abs(step * per_year - 1) < 0.02:  # fractional years: 1991.5, 1991.583, ...
                return word, season
        return f"{step:g}", None
    gaps = np.diff(np.sort(times.dropna().to_numpy())).astype("timedelta64[s]").astype(np.float64)
    days = float(np.median(gaps)) / 86400 if len(gaps) else 0.0
    for low, high, word, season in (
        (0.9 / 24, 1.1 / 24, "hour", 24),
        (0.9, 1.1, "day", 7),
        (6.5, 7.5, "week", 52),
        (27, 32, "month", 12),
        (88, 93, "quarter", 4),
        (360, 370, "year", None),
    ):
        if low <= days <= high:
            return word, season
    return f"{days:g} days", None


def _acf_season(values: np.ndarray) -> int | None:
    """The lag of the strongest autocorrelation peak of the detrended series, if it is a clear one."""
    present = values[np.isfinite(values)]
    n = len(present)
    if n < 24:
        return None
    t = np.arange(n, dtype=np.float64)
    rest = present - np.polyval(np.polyfit(t, present, 1), t)
    rest = rest - rest.mean()
    denominator = float((rest * rest).sum())
    if denominator == 0:
        return None
    lags = np.arange(2, min(400, n // 3))
    acf = np.asarray([float((rest[:-k] * rest[k:]).sum()) / denominator for k in lags])
    peaks = [i for i in range(1, len(acf) - 1) if acf[i - 1] < acf[i] >= acf[i + 1]]
    if not peaks:
        return None
    best = max(peaks, key=lambda i: acf[i])
    return int(lags[best]) if acf[best] > 0.3 else None


def _trends(values: np.ndarray) -> bool:
    """A level that drifts: a straight line explains half of the series' variance."""
    present = values[np.isfinite(values)]
    if len(present) < 8 or present.std() == 0:
        return False
    t = np.arange(len(present), dtype=np.float64)
    r = np.corrcoef(t, present)[0, 1]
    return bool(r * r >= 0.5)


def _series(path: Path, name: str, frame: Any, target: str, time_cols: list[str]) -> Draft:
    from dlkit.data.timeseries import parse_time_columns

    d = Draft(_base(name, path))
    if target in time_cols:
        raise DataError(f"--time: '{target}' is the target; the time must be another column")
    if not cols.is_numeric(frame[target]):
        raise DataError(f"--target: column '{target}' is not numeric; a forecast needs numbers")
    times, _ = parse_time_columns(frame, time_cols, None, "--time")
    order = np.argsort(times.to_numpy(), kind="stable")
    word, season = _step_season(times)
    values = frame[target].to_numpy(np.float64)[order]
    n = len(frame)
    features = []
    for c in frame.columns:
        if c in (target, *time_cols):
            continue
        s = frame[c]
        if cols.is_identifier(s, str(c)):
            d.notes.append(f"column '{c}' has a distinct value in every row (an identifier): not used")
        elif cols.is_numeric(s) and s.dropna().nunique() > 1:
            features.append(c)
        else:
            d.notes.append(f"column '{c}' is not a numeric input that varies: not used")
    train_steps = int(n * 0.7)
    found_in_acf = season is None
    if season is None:
        season = _acf_season(values[:train_steps])
    window = min(max(2 * season, 24) if season else 24, max(4, train_steps // 4))
    trend = _trends(values[:train_steps])
    d.summary.append(f"{path.name}: {n} steps, one every {word}; target '{target}', {len(features)} input column(s)")
    missing = int(frame[[target, *features]].isna().sum().sum())
    if missing:
        d.summary.append(f"missing values: {missing}, filled by interpolation")
    d.summary.append(
        f"target '{target}': {np.nanmin(values):.4g} to {np.nanmax(values):.4g}"
        + ("; it trends: the model predicts the change from the last value" if trend else "")
    )
    data: dict[str, Any] = {
        "kind": "timeseries",
        "path": str(path),
        "time_column": time_cols[0] if len(time_cols) == 1 else time_cols,
        "target": target,
        "features": features,
        "window": window,
        "horizon": 1,
        "impute": "interpolate",
        "target_mode": "difference" if trend else "level",
        "batch_size": 32 if n < 5000 else 64,
    }
    d.note(
        ("data", "window"),
        f"{window} {word}s"
        + (f": two seasons of {season}" if season and window == 2 * season else "")
        + (" (the season is where the autocorrelation peaks)" if season and found_in_acf else ""),
    )
    d.note(("model", "arch"), "an MLP over the window's steps and columns; gru, lstm or rnn read them in order")
    d.note(
        ("data", "target_mode"),
        "the series trends: predict the change from the last value" if trend else "no trend: predict the level",
    )
    d.recipe.update(
        task={"kind": "forecasting", "loss": "mse"},
        data=data,
        model={"arch": "mlp", "hidden": [128, 64], "dropout": 0.1},
        optim=_optim(1e-3, 1e-4),
        trainer=_trainer(200, 20),
        tracking={"experiment": "dlkit-series"},
        tune=_tune(
            {
                "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "model.hidden": {"type": "categorical", "choices": [[64], [128, 64], [256, 128]]},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.3},
                "data.window": {"type": "categorical", "choices": sorted({max(4, window // 2), window, window * 2})},
            }
        ),
    )
    return d


# --- images and arrays ------------------------------------------------------------------------


def _images(path: Path, name: str) -> Draft:
    from PIL import Image

    d = Draft(_base(name, path))
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    counts = {c.name: sum(1 for f in c.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) for c in classes}
    counts = {k: v for k, v in counts.items() if v}
    if len(counts) < 2:
        raise DataError(f"{path}: an image folder needs one subfolder of images per class (found {len(counts)})")
    first = next(f for c in classes for f in sorted(c.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES)
    with Image.open(first) as image:
        width, height = image.size
        colour = image.mode not in ("L", "1", "I;16", "I")
    total = sum(counts.values())
    d.summary.append(f"{path.name}: {total} images in {len(counts)} classes; the first is {width}x{height}")
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
    d.summary.append(f"classes: {shown}{' ...' if len(counts) > 6 else ''}")
    data: dict[str, Any] = {"kind": "images", "path": str(path), "channels": 3 if colour else 1, "batch_size": 32}
    if max(width, height) > 64:
        data["image_size"] = [64, 64]
        d.note(("data", "image_size"), f"the images are {width}x{height}; resized for a small CNN")
    data["augment"] = {"shift": 2 if max(width, height) <= 64 else 4, "flip": False}
    task: dict[str, Any] = {"kind": "classification"}
    if min(counts.values()) < IMBALANCE * max(counts.values()):
        task["class_weights"] = "balanced"
    d.recipe.update(
        task=task,
        data=data,
        model={"arch": "cnn", "channels": [32, 64], "convs_per_block": 2, "hidden": [128], "dropout": 0.3},
        optim={"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "scheduler": {"name": "cosine"}},
        trainer=_trainer(40, 10, "val/acc"),
        tracking={"experiment": "dlkit-images"},
        tune=_tune(
            {
                "optim.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                "model.dropout": {"type": "float", "low": 0.1, "high": 0.5},
                "model.channels": {"type": "categorical", "choices": [[16, 32], [32, 64], [32, 64, 128]]},
            },
            "val/acc",
        ),
    )
    return d


def _arrays(path: Path, name: str) -> Draft:
    d = Draft(_base(name, path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive or "y" not in archive:
                raise DataError(f"{path}: an .npz for dlkit holds arrays X and y (found {', '.join(archive.files)})")
            x_shape, y = archive["X"].shape, archive["y"]
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz file ({str(e).splitlines()[0]})") from None
    task_kind = _task(pd.Series(y.reshape(len(y), -1)[:, 0], name="y"))
    d.summary.append(f"{path.name}: X {x_shape}, y {y.shape}")
    _target_summary(d, pd.Series(y.reshape(len(y), -1)[:, 0], name="y"), task_kind)
    image = len(x_shape) in (3, 4)
    task = {"kind": task_kind}
    if task_kind == "regression":
        task["target_transform"] = "standard"
    d.recipe.update(
        task=task,
        data={"kind": "arrays", "path": str(path), "batch_size": _batch(x_shape[0])},
        model={"arch": "cnn"} if image else {"arch": "mlp", "hidden": _width(x_shape[0]), "dropout": 0.1},
        optim=_optim(1e-3, 1e-4),
        trainer=_trainer(100, 15),
        tracking={"experiment": "dlkit-arrays"},
        tune=_tune(
            {
                "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
                **(
                    {"model.channels": {"type": "categorical", "choices": [[16, 32], [32, 64]]}}
                    if image
                    else {"model.hidden": {"type": "categorical", "choices": [[64], [128, 64], [256, 128]]}}
                ),
            }
        ),
    )
    return d
