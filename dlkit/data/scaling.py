"""Feature scaling fitted on the training split, and the check that inputs are finite."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.errors import DataError


def fit_scaler(x: np.ndarray, method: str) -> dict[str, Any]:
    """Scaling statistics from training rows; per channel for images, per feature otherwise.

    A constant feature gets a unit scale instead of a zero one, so it can never divide by zero.
    """
    if method == "none":
        return {"method": "none"}
    if x.ndim >= 3:  # images (N, C, H, W): one statistic per channel, shaped (C, 1, 1) to broadcast
        axes: tuple[int, ...] = (0, *range(2, x.ndim))
    else:
        axes = (0,)
    keep = x.ndim >= 3
    with np.errstate(invalid="ignore"):
        if method == "standard":
            shift = x.mean(axis=axes, keepdims=keep, dtype=np.float64)
            scale = x.std(axis=axes, keepdims=keep, dtype=np.float64)
        else:
            shift = x.min(axis=axes, keepdims=keep).astype(np.float64)
            scale = x.max(axis=axes, keepdims=keep) - shift
    if keep:
        shift, scale = shift[0], scale[0]
    constant = np.asarray(scale) == 0
    scale = np.where(constant, 1.0, scale)
    return {
        "method": method,
        "shift": np.asarray(shift, dtype=np.float64).tolist(),
        "scale": np.asarray(scale, dtype=np.float64).tolist(),
        "constant": np.flatnonzero(constant).tolist(),
    }


def apply_scaler(x: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    """Scale `x` with statistics from `fit_scaler`."""
    if scaler["method"] == "none":
        return x.astype(np.float32)
    return ((x - np.asarray(scaler["shift"])) / np.asarray(scaler["scale"])).astype(np.float32)


def check_finite(x: np.ndarray, what: str) -> None:
    """Refuse NaN or infinite inputs, naming where the first one is."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"{what}: NaN or infinite value at row {bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else ""),
            hint="clean the data or set data.impute",
        )
