"""Tables of interactions (data.kind ratings): users and items coded, side columns encoded, split per user,
by time or at random.

Users and items get codes 1..N in the order of the training split (sorted by id); code 0 is an unknown user
or item (first seen after training), whose embedding stays zero. Each model input is the pair of codes
(user, item); the side columns become one row per user and per item (`Interactions`), which the task puts
into the model's buffers, so a prediction needs nothing but the two ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.files import column, read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, input_column
from dlkit.data.splits import assign, chronological
from dlkit.errors import DataError
from dlkit.recipe.recommend import RatingsData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section

#: a side column's values like 'Action|Comedy' hold several labels
LABEL_SEP = "|"


@dataclass
class Interactions:
    """What a recommender needs besides the pairs: side columns per user and per item (row 0: unknown)."""

    user_side: np.ndarray
    item_side: np.ndarray


def _ids(values: pd.Series) -> np.ndarray:
    return values.astype(str).str.strip().to_numpy()


def _numbers(frame: pd.DataFrame, name: str, field: str) -> np.ndarray:
    values = pd.to_numeric(frame[name], errors="coerce")
    bad = values.isna() & frame[name].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{field}: '{frame[name].iloc[row]}' in row {row + 1} of column '{name}' is not a number")
    return values.to_numpy(dtype=np.float64)


def _times(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = frame[name]
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(f"data.time_column: '{values.iloc[row]}' in row {row + 1} of '{name}' is not a time or number")
    return parsed.astype("int64").to_numpy(dtype=np.float64)


def per_user_split(users: np.ndarray, p: RatingsData) -> dict[str, np.ndarray]:
    """A seeded share of each user's interactions held out for validation and test; users with fewer than
    three interactions train only."""
    rng = np.random.default_rng(p.seed)
    order = np.argsort(users, kind="stable")
    starts = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1]])
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for rows in np.split(order, starts[1:]):
        rows = rng.permutation(rows)
        n = len(rows)
        n_test = max(1, round(n * p.test_fraction)) if n >= 3 else 0
        n_val = max(1, round(n * p.val_fraction)) if n >= 3 else 0
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test : n_test + n_val])
        parts["train"].append(rows[n_test + n_val :])
    return {s: np.sort(np.concatenate(v)) for s, v in parts.items()}


def _split(frame: pd.DataFrame, users: np.ndarray, p: RatingsData, fold: tuple[int, int] | None) -> Any:
    if fold is not None:
        raise DataError("data.kind ratings: cross-validation folds are not offered; train without --folds")
    if p.split == "random":
        return assign(np.zeros(len(frame)), p, stratify=False)  # applies data.train_fraction itself
    if p.split == "user":
        out = per_user_split(users, p)
    else:
        assert p.time_column is not None
        order = np.argsort(_times(frame, column(frame, p.time_column, "data.time_column")), kind="stable")
        out = {s: np.sort(order[a:b]) for s, (a, b) in chronological(len(frame), p).items()}
    if p.train_fraction < 1.0:
        kept = max(1, round(len(out["train"]) * p.train_fraction))
        out["train"] = np.sort(np.random.default_rng(p.seed).permutation(out["train"])[:kept])
    return out


def _encoded_side(frame: pd.DataFrame, names: list[Any], ids: np.ndarray, codes: list[str], p: RatingsData,
                  field: str) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """One row per coded id (row 0 for unknown ids stays zero): numbers standardised, labels one-hot."""
    first = frame.assign(_id=ids).drop_duplicates("_id").set_index("_id").reindex(codes)
    blocks, described = [np.zeros((len(codes) + 1, 0), dtype=np.float32)], []
    for spec in names:
        name = column(frame, spec, field)
        values = first[name]
        if pd.api.types.is_numeric_dtype(frame[name]):
            v = values.to_numpy(dtype=np.float64)
            mean, std = float(np.nanmean(v)) if np.isfinite(v).any() else 0.0, float(np.nanstd(v)) or 1.0
            block = np.zeros((len(codes) + 1, 1), dtype=np.float32)
            block[1:, 0] = np.nan_to_num((v - mean) / std)
            described.append(name)
        else:
            labels = values.fillna("").astype(str).str.split(LABEL_SEP, regex=False)
            counts = pd.Series([t.strip() for row in labels for t in row if t.strip()]).value_counts()
            kept = list(counts.index[: p.max_labels])
            where = {label: j for j, label in enumerate(kept)}
            block = np.zeros((len(codes) + 1, len(kept)), dtype=np.float32)
            for i, row in enumerate(labels, start=1):
                for t in row:
                    if t.strip() in where:
                        block[i, where[t.strip()]] = 1.0
            described += [f"{name}={label}" for label in kept]
        blocks.append(block)
    return np.concatenate(blocks, axis=1), described


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a table of interactions."""
    p = section(recipe.data, RatingsData)
    frame, _ = read_table(p, field="data.path")
    user_col = column(frame, p.user_column, "data.user_column")
    item_col = column(frame, p.item_column, "data.item_column")
    notes = []
    missing = frame[user_col].isna() | frame[item_col].isna()
    if p.rating_column is not None:
        rating_col = column(frame, p.rating_column, "data.rating_column")
        missing |= frame[rating_col].isna()
    if missing.any():
        notes.append(f"{int(missing.sum())} rows without a user, item or rating left out")
        frame = frame.loc[~missing.to_numpy()].reset_index(drop=True)
    if len(frame) < 10:
        raise DataError(f"data.path: {len(frame)} interactions are too few to split", hint="give at least 10 rows")
    users, items = _ids(frame[user_col]), _ids(frame[item_col])
    y = _numbers(frame, rating_col, "data.rating_column") if p.rating_column is not None else np.ones(len(frame))
    splits = _split(frame, users, p, fold)
    train = splits["train"]
    user_ids, item_ids = sorted(set(users[train])), sorted(set(items[train]))
    x = np.stack([_codes(users, user_ids), _codes(items, item_ids)], axis=1).astype(np.float32)
    user_side, user_names = _encoded_side(frame.iloc[train], p.user_features, users[train], user_ids, p,
                                          "data.user_features")  # fmt: skip
    item_side, item_names = _encoded_side(frame.iloc[train], p.item_features, items[train], item_ids, p,
                                          "data.item_features")  # fmt: skip
    unknown = {s: int((x[rows] == 0).any(axis=1).sum()) for s, rows in splits.items() if s != "train"}
    if any(unknown.values()):
        notes.append(f"interactions of users or items unseen in training: {unknown['val']} in val, "
                     f"{unknown['test']} in test (scored as unknown)")  # fmt: skip
    info = DataInfo(name=frame.attrs.get("name") or str(p.path).rsplit("/", 1)[-1].rsplit(".", 1)[0],
                    source=str(p.path), task=recipe.task.kind, input_shape=(2,), output_dim=2, input_kind="pairs",
                    feature_names=[user_col, item_col], source_path=str(p.path), notes=notes)  # fmt: skip
    info.preprocessing = {
        "kind": "ratings",
        "user_column": user_col,
        "item_column": item_col,
        "rating_column": rating_col if p.rating_column is not None else None,
        "users": user_ids,
        "items": item_ids,
        "user_features": user_names,
        "item_features": item_names,
        "train_interactions": len(train),
        "rating_range": [float(y[train].min()), float(y[train].max())] if p.rating_column is not None else None,
    }
    module = build_module(recipe, x, y.astype(np.float32), splits, info, scale=False)
    module.interactions = Interactions(user_side, item_side)
    return module


def _codes(values: np.ndarray, known: list[str]) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(known, start=1)}
    return np.fromiter((lookup.get(v, 0) for v in values), dtype=np.int64, count=len(values))


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    """Rows of (user, item) pairs as model inputs, rated when they hold the run's rating column; rows without
    the item column ask for the top items of each user (`RawInputs.ranked`)."""
    pre = info.preprocessing
    users = _ids(frame[input_column(frame, pre["user_column"], field, "user")])
    if pre["item_column"] not in frame.columns:
        codes = _codes(users, pre["users"])
        return RawInputs(
            np.stack([codes, np.zeros_like(codes)], 1).astype(np.float32),
            None,
            {pre["user_column"]: list(users)},
            ranked=True,
        )
    items = _ids(frame[input_column(frame, pre["item_column"], field, "item")])
    x = np.stack([_codes(users, pre["users"]), _codes(items, pre["items"])], axis=1).astype(np.float32)
    rating = pre.get("rating_column")
    y = None
    if rating is not None and rating in frame.columns and frame[rating].notna().all():
        y = _numbers(frame, rating, field).astype(np.float32)
    return RawInputs(x, y, {pre["user_column"]: list(users), pre["item_column"]: list(items)})


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first interactions of the training file as (user, item) rows: the MLflow model's input example."""
    p = section(recipe.data, RatingsData)
    frame, _ = read_table(p, field="data.path")
    pre = info.preprocessing
    head = frame[[pre["user_column"], pre["item_column"]]].dropna().head(rows)
    return head.reset_index(drop=True)  # ids typed as in the file: the model's signature expects them so
