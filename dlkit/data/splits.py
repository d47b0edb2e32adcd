"""Train/validation/test splits (scikit-learn): holdout, explicit split column, k-fold, fixed test rows.

Classification splits are stratified; every split is seeded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.errors import DataError

SPLITS = ("train", "val", "test")


def _check_classes(y: np.ndarray, need: int, what: str, names: list[str] | None) -> None:
    classes, counts = np.unique(y, return_counts=True)

    def name(code: int) -> str:
        return repr(names[code]) if names is not None else repr(int(code))

    if len(classes) < 2:
        raise DataError(f"the target has a single class ({name(classes[0])}); classification needs at least two")
    rare = counts < need
    if rare.any():
        raise DataError(
            f"class {name(classes[rare][0])} has {counts[rare][0]} sample(s); {what} needs at least {need} per class",
            hint="remove or merge rare classes",
        )


def _val_from(
    rest: np.ndarray, y: np.ndarray, share: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    train, val = train_test_split(rest, test_size=share, random_state=seed, stratify=y[rest] if stratify else None)
    return np.sort(train), np.sort(val)


def assign(
    y: np.ndarray,
    params: Any,
    *,
    stratify: bool,
    labels: np.ndarray | None = None,
    fold: tuple[int, int] | None = None,
    n_fixed_test: int = 0,
    names: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Row indices of each split.

    `labels` (values train/val/test) fix every row's split; `fold=(i, k)` makes fold i of a k-fold
    partition the test split; `n_fixed_test` marks the last rows as the test split (given test arrays).
    `params.train_fraction` below 1 keeps a seeded (stratified) subset of the training rows.
    """
    out = _assign(y, params, stratify=stratify, labels=labels, fold=fold, n_fixed_test=n_fixed_test, names=names)
    fraction = getattr(params, "train_fraction", 1.0)
    if fraction < 1.0:
        from sklearn.model_selection import train_test_split

        train = out["train"]
        keep = max(round(len(train) * fraction), len(np.unique(y[train])) if stratify else 1)
        try:
            subset, _ = train_test_split(
                train, train_size=keep, random_state=params.seed, stratify=y[train] if stratify else None
            )
        except ValueError as e:
            raise DataError(f"data.train_fraction {fraction}: cannot keep {keep} training rows: {e}") from None
        out["train"] = np.sort(subset)
    return out


def _assign(
    y: np.ndarray,
    params: Any,
    *,
    stratify: bool,
    labels: np.ndarray | None = None,
    fold: tuple[int, int] | None = None,
    n_fixed_test: int = 0,
    names: list[str] | None = None,
) -> dict[str, np.ndarray]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    index = np.arange(len(y))
    if labels is not None:
        values = np.asarray([str(v).strip().lower() for v in labels])
        unknown = sorted(set(values) - set(SPLITS))
        if unknown:
            raise DataError(f"data.split_column: values must be train, val or test; found {', '.join(unknown[:5])}")
        out = {s: index[values == s] for s in SPLITS}
        empty = [s for s in SPLITS if len(out[s]) == 0]
        if empty:
            raise DataError(f"data.split_column: no row is marked {', '.join(empty)}")
        if stratify:
            _check_classes(y[out["train"]], 1, "the training split", names)
        return out
    val_share = params.val_fraction / (1.0 - params.test_fraction)
    try:
        if fold is not None:
            i, k = fold
            if stratify:
                _check_classes(y, k, f"{k}-fold cross-validation", names)
                splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=params.seed)
            else:
                splitter = KFold(n_splits=k, shuffle=True, random_state=params.seed)
            rest, test = list(splitter.split(index, y))[i]
            train, val = _val_from(rest, y, params.val_fraction / (1.0 - 1.0 / k), params.seed, stratify)
            return {"train": train, "val": val, "test": np.sort(test)}
        if n_fixed_test:
            rest, test = index[:-n_fixed_test], index[-n_fixed_test:]
            if stratify:
                _check_classes(y[rest], 2, "a stratified train/val split", names)
            train, val = _val_from(rest, y, params.val_fraction, params.seed, stratify)
            return {"train": train, "val": val, "test": test}
        if stratify:
            _check_classes(y, 3, "a stratified train/val/test split", names)
        rest, test = train_test_split(
            index, test_size=params.test_fraction, random_state=params.seed, stratify=y if stratify else None
        )
        train, val = _val_from(rest, y, val_share, params.seed, stratify)
        return {"train": train, "val": val, "test": np.sort(test)}
    except ValueError as e:
        raise DataError(
            f"cannot split {len(y)} rows into train/val/test: {e}",
            hint="change data.val_fraction or data.test_fraction",
        ) from None


def chronological(n: int, params: Any) -> dict[str, tuple[int, int]]:
    """[start, stop) time-step ranges of train, val and test, in time order (no shuffling)."""
    n_test = max(1, round(n * params.test_fraction))
    n_val = max(1, round(n * params.val_fraction))
    n_train = n - n_val - n_test
    return {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
