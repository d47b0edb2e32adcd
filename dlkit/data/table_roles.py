"""A table's input columns by role: the recipe's lists (data.categorical, data.dates, data.text, data.images)
checked against the file, then `auto`'s rules for the rest."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dlkit.data.columns import is_numeric, looks_like_dates
from dlkit.data.files import column
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import CsvData


def listed(frame: Any, spec: list[Any] | str, field: str, features: list[str], target: Any) -> list[str]:
    """The columns a recipe list names, each checked to be an input; none for `auto`. `target` is the
    target column, or the list of them."""
    if spec == "auto":
        return []
    names = [column(frame, c, field) for c in spec]
    targets = target if isinstance(target, list) else [target]
    for name in names:
        if name in targets:
            raise DataError(f"{field}: the target column '{name}' cannot also be an input")
        if name not in features:
            raise DataError(f"{field}: column '{name}' is not among the features")
    return names


def roles(frame: Any, p: CsvData, features: list[str], target: Any) -> tuple[list[str], list[str], list[str]]:
    """Numeric, categorical and date columns among the features: the recipe's lists, then `auto`'s rules."""
    categorical = listed(frame, p.categorical, "data.categorical", features, target)
    dates = listed(frame, p.dates, "data.dates", features, target)
    rest = [c for c in features if c not in categorical and c not in dates]
    if p.dates == "auto":
        dates += [c for c in rest if looks_like_dates(frame[c])]
    if p.categorical == "auto":
        categorical += [c for c in rest if c not in dates and not is_numeric(frame[c])]
    numeric = [c for c in features if c not in categorical and c not in dates]
    wrong = [c for c in numeric if not is_numeric(frame[c])]
    if wrong:
        name = wrong[0]
        converted = pd.to_numeric(frame[name], errors="coerce")
        bad = frame[name][converted.isna() & frame[name].notna()]
        example = f" (e.g. {bad.iloc[0]!r} in data row {bad.index[0] + 1})" if len(bad) else ""
        if len(wrong) == 1:
            problem = f"column '{name}' is not numeric{example}"
        else:
            shown = ", ".join(f"'{c}'" for c in wrong[:10]) + (" ..." if len(wrong) > 10 else "")
            problem = f"{len(wrong)} columns are not numeric: {shown}; '{name}'{example.replace(' (e.g.', ' has')}"
        raise DataError(problem, hint="set data.categorical: auto, list them in data.categorical, or in data.drop")
    return numeric, categorical, dates
