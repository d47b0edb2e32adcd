"""Tables from CSV/TSV files: column checks, leak-free imputation and category encoding, scaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.files import column, encode_labels, missing_report, read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, first_rows, input_column, labels, numbers, row_ids
from dlkit.data.scaling import apply_scaler
from dlkit.data.splits import assign
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import CsvData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section


def _impute_value(values: Any, how: str) -> Any:
    present = values.dropna()
    if len(present) == 0:
        return 0.0
    if how == "mean":
        return float(present.mean())
    if how == "median":
        return float(present.median())
    return present.mode().iloc[0]


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a CSV table."""
    import pandas as pd

    p = section(recipe.data, CsvData)
    frame, path = read_table(p, header=p.header)
    target = column(frame, p.target, "data.target")
    dropped = {column(frame, c, "data.drop") for c in p.drop}
    split_col = column(frame, p.split_column, "data.split_column") if p.split_column is not None else None
    if p.features is not None:
        features = [column(frame, c, "data.features") for c in p.features]
    else:
        features = [c for c in frame.columns if c not in dropped | {target, split_col}]
    if target in features:
        raise DataError(f"data.features: the target column '{target}' cannot also be a feature")
    if not features:
        raise DataError("data.features: no input columns left", hint="check data.drop and data.features")
    categorical = [column(frame, c, "data.categorical") for c in p.categorical]
    unknown = [c for c in categorical if c not in features]
    if unknown:
        raise DataError(f"data.categorical: column '{unknown[0]}' is not among the features")
    numeric = [c for c in features if c not in categorical]
    for name in numeric:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            converted = pd.to_numeric(frame[name], errors="coerce")
            bad = frame[name][converted.isna() & frame[name].notna()]
            example = f" (e.g. {bad.iloc[0]!r} in data row {bad.index[0] + 1})" if len(bad) else ""
            raise DataError(
                f"column '{name}' is not numeric{example}",
                hint="declare it in data.categorical, or list it in data.drop",
            )

    classification = recipe.task.labelled
    if classification:
        y, class_names = encode_labels(frame[target], "data.target")
    else:
        if not pd.api.types.is_numeric_dtype(frame[target]):
            raise DataError(
                f"data.target: column '{target}' is not numeric; task {recipe.task.kind} needs numbers",
                hint="use task: classification for labels",
            )
        missing = missing_report(frame, [target])
        if missing:
            raise DataError(f"data.target: {missing}", hint="drop unlabelled rows")
        y, class_names = frame[target].to_numpy(np.float32), None

    labels = frame[split_col].to_numpy() if split_col else None
    splits = assign(y, p, stratify=classification, labels=labels, fold=fold, names=class_names)
    train_rows = frame.iloc[splits["train"]]

    filled: dict[str, Any] = {}
    missing = missing_report(frame, features)
    if missing:
        if p.impute is None:
            raise DataError(missing, hint="set data.impute: mean, median or most_frequent, or clean the file")
        for name in features:
            if frame[name].isna().any():
                how = p.impute if name in numeric else "most_frequent"
                filled[name] = _impute_value(train_rows[name], how)
        frame = frame.fillna(filled)
        train_rows = frame.iloc[splits["train"]]

    numeric_x = frame[numeric].to_numpy(np.float64) if numeric else np.empty((len(frame), 0))
    if numeric and not np.isfinite(numeric_x).all():
        row, col = np.argwhere(~np.isfinite(numeric_x))[0]
        raise DataError(f"column '{numeric[col]}' has an infinite value in data row {row + 1}")

    blocks = [numeric_x]
    names = list(numeric)
    categories: dict[str, list[str]] = {}
    embedded: list[tuple[int, int]] = []
    for name in categorical:
        values = frame[name].astype(str).to_numpy()
        known = sorted(set(train_rows[name].astype(str)))
        categories[name] = known
        if p.categorical_encoding == "onehot":
            blocks.append((values[:, None] == np.asarray(known)[None, :]).astype(np.float64))
            names.extend(f"{name}={c}" for c in known)
        else:
            lookup = {c: i + 1 for i, c in enumerate(known)}  # 0: a category not seen in training
            embedded.append((len(names), len(known) + 1))
            blocks.append(np.asarray([lookup.get(v, 0) for v in values], dtype=np.float64)[:, None])
            names.append(name)
    x = np.concatenate(blocks, axis=1).astype(np.float32)

    info = DataInfo(
        name=path.stem,
        source=str(path),
        task=recipe.task.kind,
        input_shape=(x.shape[1],),
        output_dim=0,
        input_kind="dense",
        class_names=class_names,
        feature_names=names,
        categorical=embedded,
        source_path=str(path),
    )
    info.preprocessing = {
        "kind": "csv",
        "target": target,
        "numeric": numeric,
        "categorical": categories,
        "categorical_encoding": p.categorical_encoding,
        "impute": {k: (v.item() if hasattr(v, "item") else v) for k, v in filled.items()},
        "class_names": class_names,
    }
    return build_module(recipe, x, y, splits, info, scale_columns=np.arange(len(numeric)))


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    pre = info.preprocessing
    numeric = [input_column(frame, c, field, "feature") for c in pre["numeric"]]
    fill = {str(k): v for k, v in pre.get("impute", {}).items()}
    blocks = [numbers(frame, numeric, fill, field)]
    if "scaler" in pre and numeric:
        blocks[0] = apply_scaler(blocks[0], pre["scaler"]).astype(np.float64)
    for name, known in pre["categorical"].items():
        col = input_column(frame, name, field, "categorical")
        values = frame[col].fillna(fill.get(str(name), "")).astype(str).to_numpy()
        if pre["categorical_encoding"] == "onehot":
            blocks.append((values[:, None] == np.asarray(known)[None, :]).astype(np.float64))
        else:
            lookup = {c: i + 1 for i, c in enumerate(known)}
            blocks.append(np.asarray([lookup.get(v, 0) for v in values], dtype=np.float64)[:, None])
    x = np.concatenate(blocks, axis=1).astype(np.float32)
    target = pre.get("target")
    target = target if target in frame.columns else None
    return RawInputs(x, labels(frame, target, info, field), row_ids(len(frame)))


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first rows of the training file, feature columns only: the MLflow model's input example."""
    pre = info.preprocessing
    return first_rows(recipe, [*pre["numeric"], *pre["categorical"]], rows)
