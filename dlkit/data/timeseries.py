"""Time series: gap checks, chronological split, scaling fitted on the training period, sliding windows.

A window's inputs are the `window` steps before its targets; a window belongs to the
split that holds all of its target steps, so test targets lie strictly after every
training target and nothing after a training window's targets reaches the scaler.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.files import column, read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, first_rows, input_column, numbers
from dlkit.data.scaling import apply_scaler, fit_scaler
from dlkit.data.splits import chronological
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import TimeSeriesData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section


def _parse_times(frame: Any, name: str) -> tuple[Any, bool]:
    import pandas as pd

    raw = frame[name]
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(float), False
    times = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = times.isna() & raw.notna()
    if bad.any() or raw.isna().any():
        row = int(np.flatnonzero((bad | raw.isna()).to_numpy())[0])
        raise DataError(f"data.time_column: '{raw.iloc[row]}' in data row {row + 1} is not a date or time")
    return times, True


def _expected_timeline(times: Any, is_datetime: bool) -> Any:
    """The complete regular timeline the series should have."""
    import pandas as pd

    if is_datetime:
        days = times.dt.day
        months = (times.dt.year * 12 + times.dt.month).to_numpy()
        month_steps = np.diff(months)
        if (
            (days == days.iloc[0]).all()
            and len(month_steps)
            and month_steps.min() >= 1
            and (np.diff(times.to_numpy()).min() >= np.timedelta64(28, "D"))
        ):
            step = int(month_steps.min())  # monthly, quarterly, yearly series
            full = np.arange(months[0], months[-1] + 1, step)
            as_time = pd.to_datetime({"year": (full - 1) // 12, "month": (full - 1) % 12 + 1, "day": int(days.iloc[0])})
            return pd.DatetimeIndex(as_time)
        delta = pd.Series(times).diff().dropna().min()
        return pd.date_range(times.iloc[0], times.iloc[-1], freq=delta)
    spacing = float(np.diff(times.to_numpy()).min())
    return pd.Index(np.arange(times.iloc[0], times.iloc[-1] + spacing / 2, spacing))


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a time-series file."""
    import pandas as pd

    p = section(recipe.data, TimeSeriesData)
    if fold is not None:
        raise DataError("k-fold cross-validation would train on the future; time series use a chronological split")
    frame, path = read_table(p)
    time_col = column(frame, p.time_column, "data.time_column")
    targets = [column(frame, c, "data.target") for c in (p.target if isinstance(p.target, list) else [p.target])]
    extras = [column(frame, c, "data.features") for c in p.features if column(frame, c, "data.features") not in targets]
    value_cols = targets + extras
    for name in value_cols:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            raise DataError(f"column '{name}' is not numeric; a forecast needs numbers")
    times, is_datetime = _parse_times(frame, time_col)
    order = np.argsort(times.to_numpy(), kind="stable")
    frame, times = frame.iloc[order].reset_index(drop=True), times.iloc[order].reset_index(drop=True)
    if times.duplicated().any():
        dup = times[times.duplicated()].iloc[0]
        raise DataError(f"data.time_column: timestamp {dup} appears more than once")

    expected = _expected_timeline(times, is_datetime)
    series = frame[value_cols].set_axis(pd.Index(times), axis=0)
    missing_times = expected.difference(series.index)
    nan_rows = series.index[series.isna().any(axis=1)]
    if len(missing_times) or len(nan_rows):
        if p.impute is None:
            if len(missing_times):
                first = ", ".join(str(t.date() if hasattr(t, "date") else t) for t in missing_times[:3])
                problem = f"{len(missing_times)} missing timestamp(s), first {first}"
            else:
                problem = f"{len(nan_rows)} missing value(s), first at {nan_rows[0]}"
            raise DataError(f"data.path: the series has gaps: {problem}", hint="set data.impute: interpolate or ffill")
        series = series.reindex(expected.union(series.index))
        series = (
            series.interpolate(method="linear", limit_direction="both")
            if p.impute == "interpolate"
            else series.ffill().bfill()
        )

    values = series.to_numpy(np.float64)
    if not np.isfinite(values).all():
        raise DataError("data.path: the series has infinite values")
    n = len(values)
    needed = p.window + p.horizon
    if n < needed + 2:
        raise DataError(
            f"data.window {p.window} + data.horizon {p.horizon} is longer than the series ({n} steps)",
            hint="use a shorter window",
        )
    ranges = chronological(n, p)
    train_stop = ranges["train"][1]
    if train_stop < needed:
        raise DataError(
            f"data.window {p.window} + data.horizon {p.horizon} does not fit in the training period ({train_stop} steps)",
            hint="use a shorter window or smaller val/test fractions",
        )
    scaler = fit_scaler(values[:train_stop], p.scale)
    shift = np.asarray(scaler.get("shift", np.zeros(values.shape[1])))
    scale = np.asarray(scaler.get("scale", np.ones(values.shape[1])))
    scaled = ((values - shift) / scale).astype(np.float32)

    # windows: inputs are steps [s, s+window), targets [s+window, s+window+horizon)
    inputs = np.lib.stride_tricks.sliding_window_view(scaled[: n - p.horizon], p.window, axis=0).transpose(0, 2, 1)
    target_idx = list(range(len(targets)))
    future = np.lib.stride_tricks.sliding_window_view(values[p.window :, target_idx], p.horizon, axis=0)
    y = future.transpose(0, 2, 1).reshape(len(future), -1).astype(np.float32)  # (N, horizon * targets)
    count = min(len(inputs), len(y))
    inputs, y = np.ascontiguousarray(inputs[:count]), y[:count]
    first_target = np.arange(count) + p.window
    last_target = first_target + p.horizon  # exclusive
    splits = {
        name: np.flatnonzero((first_target >= start) & (last_target <= stop)) for name, (start, stop) in ranges.items()
    }
    for name, rows in splits.items():
        if len(rows) == 0:
            raise DataError(f"no complete window fits in the {name} period", hint="use a shorter window or horizon")

    info = DataInfo(
        name=path.stem,
        source=str(path),
        task=recipe.task.kind,
        input_shape=tuple(inputs.shape[1:]),
        output_dim=y.shape[1],
        input_kind="sequence",
        feature_names=value_cols,
        target_features=target_idx,
        horizon=p.horizon,
        target_mean=np.tile(shift[target_idx], p.horizon).tolist(),  # type: ignore[arg-type]
        target_std=np.tile(scale[target_idx], p.horizon).tolist(),  # type: ignore[arg-type]
        source_path=str(path),
    )
    info.preprocessing = {
        "kind": "timeseries",
        "time_column": time_col,
        "columns": value_cols,
        "targets": targets,
        "window": p.window,
        "horizon": p.horizon,
        "scaler": scaler,
        "periods": {k: [str(series.index[a]), str(series.index[b - 1])] for k, (a, b) in ranges.items()},
    }
    return build_module(recipe, inputs, y, splits, info, scale=False)


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    """Every window of the series: inputs are `window` steps, targets the next `horizon` ones where known."""
    pre = info.preprocessing
    time_col = input_column(frame, pre["time_column"], field, "time")
    columns = [input_column(frame, c, field, "series") for c in pre["columns"]]
    frame = frame.sort_values(time_col, kind="stable").reset_index(drop=True)
    values = numbers(frame, columns, {}, field)
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


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first steps of the series, two more than a window: the MLflow model's input example."""
    pre = info.preprocessing
    return first_rows(recipe, [pre["time_column"], *pre["columns"]], int(pre["window"]) + 2)
