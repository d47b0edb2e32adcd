"""Series: the step and season of the time column, a trend, and the forecasting recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlkit.data import columns as cols
from dlkit.data.infer import common
from dlkit.data.infer.common import Draft
from dlkit.errors import DataError


def step_season(times: Any) -> tuple[str, int | None]:
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


def acf_season(values: np.ndarray) -> int | None:
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


def trends(values: np.ndarray) -> bool:
    """A level that drifts: a straight line explains half of the series' variance."""
    present = values[np.isfinite(values)]
    if len(present) < 8 or present.std() == 0:
        return False
    t = np.arange(len(present), dtype=np.float64)
    r = np.corrcoef(t, present)[0, 1]
    return bool(r * r >= 0.5)


def series(path: Path, name: str, frame: Any, target: str, time_cols: list[str]) -> Draft:
    from dlkit.data.timeseries import parse_time_columns

    d = Draft(common.base(name, path))
    if target in time_cols:
        raise DataError(f"--time: '{target}' is the target; the time must be another column")
    if not cols.is_numeric(frame[target]):
        raise DataError(f"--target: column '{target}' is not numeric; a forecast needs numbers")
    times, _ = parse_time_columns(frame, time_cols, None, "--time")
    order = np.argsort(times.to_numpy(), kind="stable")
    word, season = step_season(times)
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
        season = acf_season(values[:train_steps])
    window = min(max(2 * season, 24) if season else 24, max(4, train_steps // 4))
    trend = trends(values[:train_steps])
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
        optim=common.optim(1e-3, 1e-4),
        trainer=common.trainer(200, 20),
        tracking={"experiment": "dlkit-series"},
        tune=common.tune(
            {
                "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "model.hidden": {"type": "categorical", "choices": [[64], [128, 64], [256, 128]]},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.3},
                "data.window": {"type": "categorical", "choices": sorted({max(4, window // 2), window, window * 2})},
            }
        ),
    )
    return d
