"""Time series: gap checks, chronological split, scaling fitted on the training period, sliding windows.
A window's inputs are the `window` steps before its targets and it belongs to the split that holds all of
its target steps: test targets lie after every training target, and the scaler sees nothing past the latter.
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
from dlkit.data.targets import check_target_range
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import TimeSeriesData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section


def _parse_one(raw: Any, fmt: str | None, field: str) -> tuple[Any, bool]:
    import warnings

    import pandas as pd

    if pd.api.types.is_numeric_dtype(raw) and fmt is None:
        if raw.isna().any():
            row = int(np.flatnonzero(raw.isna().to_numpy())[0])
            raise DataError(f"{field}: the time is missing in data row {row + 1}")
        return raw.astype(float), False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = pd.to_datetime(raw.astype(str) if fmt else raw, errors="coerce", format=fmt or "mixed")
    bad = times.isna() | raw.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        hint = "check data.time_format" if fmt else "set data.time_format, e.g. '%d.%m.%Y'"
        raise DataError(f"{field}: '{raw.iloc[row]}' in data row {row + 1} is not a date or time", hint=hint)
    return times, True


def _period_number(raw: Any, name: str, field: str) -> Any:
    """Quarter or month numbers from 1, 2, ... or from text such as 'Q3' or '2'."""
    import pandas as pd

    values = pd.to_numeric(raw.astype(str).str.extract(r"(\d+)")[0], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{field}: '{raw.iloc[row]}' in column '{name}', data row {row + 1}, is not a number")
    return values.astype(int)


def parse_time_columns(frame: Any, names: list[str], fmt: str | None, field: str) -> tuple[Any, bool]:
    """The timestamps of a series: one column, or year + quarter / month (+ day) columns made into dates."""
    import pandas as pd

    if len(names) == 1:
        return _parse_one(frame[names[0]], fmt, field)
    year = _period_number(frame[names[0]], names[0], field)
    second = _period_number(frame[names[1]], names[1], field)
    quarterly = len(names) == 2 and (second.max() <= 4 or "q" in names[1].lower())
    if quarterly and second.max() > 4:
        raise DataError(f"{field}: column '{names[1]}' holds {second.max()}, not a quarter 1..4")
    if not quarterly and not second.between(1, 12).all():
        raise DataError(f"{field}: column '{names[1]}' must hold months 1..12 (or quarters 1..4)")
    month = (second - 1) * 3 + 1 if quarterly else second
    day = _period_number(frame[names[2]], names[2], field) if len(names) > 2 else 1
    if len(names) > 3:
        raise DataError(f"{field}: at most three time columns (year, month, day)")
    times = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise DataError(f"{field}: the columns {', '.join(names)} make no date in data row {row + 1}")
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
    start = float(times.iloc[0])
    return pd.Index(start + np.arange(round((float(times.iloc[-1]) - start) / spacing) + 1) * spacing)


def _snapped(times: Any) -> Any:
    """Numeric times (fractional years such as 1991.583) on the exact grid _expected_timeline builds.

    Numbers written with a few decimals are not exact multiples of their spacing; snapped to the
    nearest step, the same time read twice is the same number and a regular series has no gaps.
    """
    import pandas as pd

    values = times.to_numpy(np.float64)
    if len(values) < 2:
        return times
    spacing = float(np.diff(values).min())
    if spacing <= 0:
        return times
    steps = np.round((values - values[0]) / spacing)
    if np.abs(values[0] + steps * spacing - values).max() > 0.01 * spacing:
        return times  # irregular: left as it is, reported as gaps
    return pd.Series(values[0] + steps * spacing, index=times.index)


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a time-series file."""
    import pandas as pd

    p = section(recipe.data, TimeSeriesData)
    if fold is not None:
        raise DataError("k-fold cross-validation would train on the future; time series use a chronological split")
    frame, path = read_table(p)
    time_cols = [
        column(frame, c, "data.time_column")
        for c in (p.time_column if isinstance(p.time_column, list) else [p.time_column])
    ]
    time_col = time_cols[0]
    targets = [column(frame, c, "data.target") for c in (p.target if isinstance(p.target, list) else [p.target])]
    extras = [column(frame, c, "data.features") for c in p.features if column(frame, c, "data.features") not in targets]
    value_cols = targets + extras
    for name in value_cols:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            raise DataError(f"column '{name}' is not numeric; a forecast needs numbers")
    for name in targets:
        check_target_range(frame[name].to_numpy(np.float64), name)
    overlap = [c for c in time_cols if c in value_cols]
    if overlap:
        raise DataError(f"data.time_column: column '{overlap[0]}' is also a target or feature")
    times, is_datetime = parse_time_columns(frame, time_cols, p.time_format, "data.time_column")
    order = np.argsort(times.to_numpy(), kind="stable")
    frame, times = frame.iloc[order].reset_index(drop=True), times.iloc[order].reset_index(drop=True)
    if not is_datetime:
        times = _snapped(times)
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
        series = _imputed(series.reindex(expected.union(series.index)), p.impute)

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
    if p.train_fraction < 1.0:  # the latest windows: those nearest the periods they are validated and tested on
        train = splits["train"]
        splits["train"] = train[len(train) - max(1, round(len(train) * p.train_fraction)) :]
    level_shift = np.tile(shift[target_idx], p.horizon)
    level_scale = np.tile(scale[target_idx], p.horizon)
    target_shift, target_scale = level_shift, level_scale
    if p.target_mode == "difference":  # fitted on the change from the window's last value
        last = np.tile(values[first_target - 1][:, target_idx], (1, p.horizon))
        change = y - last
        target_shift = change[splits["train"]].mean(axis=0)
        target_scale = change[splits["train"]].std(axis=0)
        target_scale[target_scale == 0] = 1.0

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
        target_mean=target_shift.tolist(),
        target_std=target_scale.tolist(),
        source_path=str(path),
    )
    info.preprocessing = {
        "kind": "timeseries",
        "time_column": time_col,
        "time_columns": time_cols,
        "time_format": p.time_format,
        "target_mode": p.target_mode,
        "level_shift": level_shift.tolist(),
        "level_scale": level_scale.tolist(),
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
    time_cols = [input_column(frame, c, field, "time") for c in pre.get("time_columns", [pre["time_column"]])]
    columns = [input_column(frame, c, field, "series") for c in pre["columns"]]
    parsed, _ = parse_time_columns(frame, time_cols, pre.get("time_format"), field)
    order = np.argsort(parsed.to_numpy(), kind="stable")
    frame, parsed = frame.iloc[order].reset_index(drop=True), parsed.iloc[order].reset_index(drop=True)
    impute = section(recipe.data, TimeSeriesData).impute
    # empty cells are filled as the run filled its training series (data.impute), or refused
    values = numbers(frame, columns, {str(c): np.nan for c in columns} if impute else {}, field)
    if impute and np.isnan(values).any():
        import pandas as pd

        values = _imputed(pd.DataFrame(values), impute).to_numpy(np.float64)
        if np.isnan(values).any():
            name = columns[int(np.flatnonzero(np.isnan(values).any(axis=0))[0])]
            raise DataError(f"{field}: column '{name}' is empty in every row")
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
    times = (frame[time_cols[0]] if len(time_cols) == 1 else parsed).astype(str).tolist()
    return RawInputs(np.ascontiguousarray(x), y, {"last_input_time": times[window - 1 :]})


def _imputed(table: Any, method: str) -> Any:
    """Gaps of a series filled: linear interpolation, or the last value seen (the first, before it)."""
    if method == "interpolate":
        return table.interpolate(method="linear", limit_direction="both")
    return table.ffill().bfill()


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first steps of the series, two more than a window: the MLflow model's input example."""
    pre = info.preprocessing
    return first_rows(recipe, [*pre.get("time_columns", [pre["time_column"]]), *pre["columns"]], int(pre["window"]) + 2)
