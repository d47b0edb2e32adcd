"""What a table's columns hold: numbers, categories, dates, free text, identifiers; calendar features.

One set of rules serves `categorical: auto` / `dates: auto` in a recipe and the recipe that
`dlkit init` infers from a file, so a column is read the same way by both.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dlkit.errors import DataError

#: calendar features of a date column, and of a timestamp column whose times are not all midnight
DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year")
TIME_PARTS = ("hour", "minute")
#: a string column whose values are this long on average, and mostly distinct, holds free text
TEXT_MIN_MEAN_LENGTH = 30
#: sampled values that must parse for a string column to be read as dates
DATE_SHARE = 0.95
#: metrics by group: a column with more distinct values is refused (an id, free text); a numeric column with
#: more than NUMERIC_LEVELS distinct values is cut into quartile bands instead
MAX_GROUPS = 50
NUMERIC_LEVELS = 10
MISSING = "- missing -"


def is_numeric(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def looks_like_dates(series: Any) -> bool:
    """A string column whose values (a sample of them) read as dates or timestamps."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if is_numeric(series):
        return False
    present = series.dropna().astype(str)
    if present.empty:
        return False
    sample = present.sample(min(len(present), 200), random_state=0) if len(present) > 200 else present
    # a date has digits and separators; "3", "yes" or a category code are not dates
    if not sample.str.contains(r"\d+[-/.:]\d+", regex=True).all():
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


def parse_dates(series: Any) -> Any:
    import warnings

    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(series, errors="coerce", format="mixed")


def date_parts(series: Any) -> list[str]:
    """The calendar features a date column gives (hours and minutes only where times vary)."""
    times = parse_dates(series).dropna()
    parts = list(DATE_PARTS)
    if len(times) and ((times.dt.hour != 0) | (times.dt.minute != 0)).any():
        parts.extend(TIME_PARTS)
    return parts


def calendar(series: Any, parts: list[str]) -> np.ndarray:
    """One float column per calendar part (NaN where the date is missing or unreadable)."""
    times = parse_dates(series)
    out = np.empty((len(series), len(parts)), dtype=np.float64)
    for j, part in enumerate(parts):
        out[:, j] = getattr(times.dt, part).to_numpy(np.float64, na_value=np.nan)
    return out


def is_free_text(series: Any) -> bool:
    """Long strings that are mostly distinct: sentences, not categories."""
    if is_numeric(series):
        return False
    present = series.dropna().astype(str)
    if present.empty:
        return False
    return bool(present.str.len().mean() >= TEXT_MIN_MEAN_LENGTH and present.nunique() > 0.5 * len(present))


def is_identifier(series: Any, name: str) -> bool:
    """A row number or key: a distinct value in every row that says nothing about the target.

    Integer columns count only as a run of consecutive values (1, 2, 3, ...) or under an ID-like
    name; a distinct measurement (a price, an area) stays a feature.
    """
    import pandas as pd

    present = series.dropna()
    if len(present) < 20 or present.nunique() != len(series):
        return False
    lowered = name.lower()
    named = lowered in {"id", "rownames", "index", "key", "uuid", "row"} or lowered.endswith(("_id", "id_str"))
    if pd.api.types.is_integer_dtype(series):
        steps = np.diff(np.sort(present.to_numpy()))
        return bool(named or (steps == 1).all())
    if pd.api.types.is_float_dtype(series):
        return named
    return not is_free_text(series) or named


def category_list(values: Any, most: int) -> list[str]:
    """The categories of a training column, at most `most` of them: the most frequent (ties by name)."""
    counts = values.astype(str).value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return sorted(name for name, _ in ranked[:most])


def category_codes(values: Any, known: list[str]) -> np.ndarray:
    """Each value's code: 1.. in the order of `known`, 0 for a value `known` does not hold."""
    import pandas as pd

    return pd.Index(known, dtype=object).get_indexer(np.asarray(values, dtype=object)) + 1


def group_labels(values: Any, column: str, field: str) -> np.ndarray:
    """Each row's group: the value as text, a missing cell as "- missing -"; numbers with many distinct values
    in quartile bands ("18 to 29"). A column of more than MAX_GROUPS other values is refused, naming `field`."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    present = series.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    out = series.astype(object).where(series.notna(), MISSING)
    if len(present) and numbers.notna().all() and present.nunique() > NUMERIC_LEVELS:
        edges = np.unique(np.quantile(numbers.to_numpy(np.float64), [0.0, 0.25, 0.5, 0.75, 1.0]))
        names = [f"{low:g} to {high:g}" for low, high in itertools.pairwise(edges)]
        bands = pd.cut(numbers, edges, labels=names, include_lowest=True)
        out[present.index] = bands.astype(str).to_numpy()
        return out.astype(str).to_numpy()  # type: ignore[no-any-return]
    out = out.astype(str).to_numpy()
    distinct = len(set(out.tolist()))
    if distinct > MAX_GROUPS:
        raise DataError(
            f"{field}: column '{column}' has {distinct} distinct values",
            hint=f"report by a column of at most {MAX_GROUPS} groups (numbers are cut into quartile bands)",
        )
    return out  # type: ignore[no-any-return]
