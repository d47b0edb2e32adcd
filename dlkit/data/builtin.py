"""Datasets bundled with scikit-learn: nothing is downloaded."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.data.base import TensorDataModule, from_arrays
from dlkit.errors import DataError

# dataset -> the task its target supports
_NATURAL_TASK = {
    "digits": "classification",
    "breast_cancer": "classification",
    "wine": "classification",
    "iris": "classification",
    "diabetes": "regression",
}


def load_arrays(name: str) -> tuple[np.ndarray, np.ndarray, list[str] | None, list[str]]:
    """Features, target, class names (None for regression) and feature names of a bundled dataset."""
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    bunch = loader()
    x = np.asarray(bunch.data, dtype=np.float32)
    if name == "digits":
        x = x.reshape(-1, 1, 8, 8)
    features = [str(f) for f in getattr(bunch, "feature_names", [])] or [f"pixel_{i}" for i in range(64)]
    if _NATURAL_TASK[name] == "classification":
        names = [str(c) for c in bunch.target_names]
        return x, np.asarray(bunch.target, dtype=np.int64), names, features
    return x, np.asarray(bunch.target, dtype=np.float32), None, features


def build(recipe: Any) -> TensorDataModule:
    """The DataModule of a built-in dataset."""
    name = recipe.data.name
    natural = _NATURAL_TASK[name]
    if recipe.task.kind != natural:
        raise DataError(
            f"data.name {name} is a {natural} dataset, but task is {recipe.task.kind}",
            hint=f"set task: {natural}, or pick a {recipe.task.kind} dataset",
        )
    x, y, class_names, features = load_arrays(name)
    return from_arrays(
        recipe, x, y, name=name, source=f"sklearn.datasets.load_{name}", class_names=class_names, feature_names=features
    )
