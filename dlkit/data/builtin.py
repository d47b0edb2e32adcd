"""Datasets bundled with scikit-learn: nothing is downloaded."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, input_column, labels, numbers, row_ids
from dlkit.data.scaling import apply_scaler
from dlkit.data.splits import assign
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import BuiltinData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section

# dataset -> the task its target supports
_NATURAL_TASK = {
    "digits": "classification",
    "digits_rows": "classification",
    "breast_cancer": "classification",
    "wine": "classification",
    "iris": "classification",
    "diabetes": "regression",
}


def load_arrays(name: str) -> tuple[np.ndarray, np.ndarray, list[str] | None, list[str]]:
    """Features, target, class names (None for regression) and feature names of a bundled dataset."""
    from sklearn import datasets

    loader = getattr(datasets, f"load_{'digits' if name == 'digits_rows' else name}")
    bunch = loader()
    x = np.asarray(bunch.data, dtype=np.float32)
    if name == "digits":
        x = x.reshape(-1, 1, 8, 8)
    elif name == "digits_rows":
        x = x.reshape(-1, 8, 8)  # 8 time steps (rows) of 8 values
    features = [str(f) for f in getattr(bunch, "feature_names", [])] or [f"pixel_{i}" for i in range(64)]
    if _NATURAL_TASK[name] == "classification":
        names = [str(c) for c in bunch.target_names]
        return x, np.asarray(bunch.target, dtype=np.int64), names, features
    return x, np.asarray(bunch.target, dtype=np.float32), None, features


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a built-in dataset."""
    name = section(recipe.data, BuiltinData).name
    natural = _NATURAL_TASK[name]
    if recipe.task.labelled != (natural == "classification"):
        raise DataError(
            f"data.name {name} is a {natural} dataset, but task is {recipe.task.kind}",
            hint=f"set task: {natural}, or pick a {recipe.task.kind} dataset",
        )
    x, y, class_names, features = load_arrays(name)
    kind = {"digits": "image", "digits_rows": "sequence"}.get(name, "dense")
    info = DataInfo(
        name=name,
        source=f"sklearn.datasets.load_{name}",
        task=recipe.task.kind,
        input_shape=tuple(x.shape[1:]),
        output_dim=0,
        input_kind=kind,  # type: ignore[arg-type]
        class_names=class_names,
        feature_names=features if kind == "dense" else None,
    )
    info.preprocessing = {"kind": "builtin", "name": name, "class_names": class_names}
    splits = assign(y, recipe.data, stratify=class_names is not None, fold=fold, names=class_names)
    return build_module(recipe, x, y, splits, info)


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    features = load_arrays(info.preprocessing["name"])[3]
    columns = [input_column(frame, c, field, "feature") for c in features]
    x = numbers(frame, columns, {}, field).reshape(-1, *info.input_shape)
    if "scaler" in info.preprocessing:
        x = apply_scaler(x, info.preprocessing["scaler"])
    return RawInputs(x.astype(np.float32), labels(frame, "target", info, field), row_ids(len(frame)))


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first samples of the dataset as a table of its features: the MLflow model's input example."""
    import pandas as pd

    x, _, _, features = load_arrays(info.preprocessing["name"])
    return pd.DataFrame(x[:rows].reshape(rows, -1).astype(np.float64), columns=features)
