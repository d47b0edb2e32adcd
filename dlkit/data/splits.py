"""Train/validation/test splits (scikit-learn), seeded and stratified for classification."""

from __future__ import annotations

import numpy as np

from dlkit.errors import DataError


def holdout(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    if stratify:
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise DataError(f"the target has a single class ({classes[0]!r}); classification needs at least two")
        rare = classes[counts < 3]
        if len(rare):
            raise DataError(
                f"class {rare[0]!r} has {counts[counts < 3][0]} sample(s); a stratified train/val/test split needs at least 3",
                hint="remove or merge rare classes",
            )
    strat = y if stratify else None
    try:
        rest, test = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=strat)
        val_share = val_fraction / (1.0 - test_fraction)
        train, val = train_test_split(
            rest, test_size=val_share, random_state=seed, stratify=y[rest] if stratify else None
        )
    except ValueError as e:
        raise DataError(
            f"cannot split {len(y)} rows into train/val/test: {e}",
            hint="change data.val_fraction or data.test_fraction",
        ) from None
    return np.sort(train), np.sort(val), np.sort(test)
