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
    if method == "quantile":
        return _fit_quantiles(x)
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


#: points of each feature's distribution a quantile scaler keeps
QUANTILES = 256
#: the quantile scaler's outputs lie within this many standard deviations (as sklearn's QuantileTransformer)
_CLIP = 1e-7


def _fit_quantiles(x: np.ndarray) -> dict[str, Any]:
    """Each feature's quantiles on the training rows: mapped through them, values follow a normal distribution.

    Skewed features (incomes, counts, amounts) and outliers squeeze the rest of a standardised
    column into a sliver; ranked, every feature spreads over the same range, which an MLP learns
    from much as a tree does. Binary and few-valued features keep their distinct levels.
    """
    if x.ndim != 2:
        raise DataError("data.scale: quantile scales table columns; use standard for images and sequences")
    count = min(QUANTILES, max(2, len(x)))
    quantiles = np.quantile(x.astype(np.float64), np.linspace(0.0, 1.0, count), axis=0).T
    constant = np.flatnonzero(quantiles[:, 0] == quantiles[:, -1])
    return {"method": "quantile", "quantiles": quantiles.tolist(), "constant": constant.tolist()}


def _apply_quantiles(x: np.ndarray, quantiles: list[list[float]]) -> np.ndarray:
    from scipy.special import ndtri

    out = np.empty(x.shape, dtype=np.float64)
    for j, q in enumerate(np.asarray(quantiles, dtype=np.float64)):
        probs = np.linspace(0.0, 1.0, len(q))
        column = x[:, j].astype(np.float64)
        # both directions, averaged: a value repeated over many quantiles lands in their middle
        up = np.interp(column, q, probs)
        down = -np.interp(-column, -q[::-1], -probs[::-1])
        out[:, j] = ndtri(np.clip((up + down) / 2, _CLIP, 1 - _CLIP)) if q[0] != q[-1] else 0.0
    return out


def apply_scaler(x: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    """Scale `x` with statistics from `fit_scaler`."""
    if scaler["method"] == "none":
        return x.astype(np.float32)
    if scaler["method"] == "quantile":
        return _apply_quantiles(x, scaler["quantiles"]).astype(np.float32)
    return ((x - np.asarray(scaler["shift"])) / np.asarray(scaler["scale"])).astype(np.float32)


def check_finite(x: np.ndarray, what: str) -> None:
    """Refuse NaN or infinite inputs, naming where the first one is."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"{what}: NaN or infinite value at row {bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else ""),
            hint="clean the data or set data.impute",
        )


def fit_bins(x: np.ndarray, bins: int) -> list[list[float]]:
    """Each column's bin edges: quantiles of the training rows, repeated edges merged."""
    edges = np.quantile(x.astype(np.float64), np.linspace(0.0, 1.0, bins + 1), axis=0).T
    return [np.unique(column).tolist() for column in edges]


def piecewise(x: np.ndarray, edges: list[list[float]], dtype: Any = np.float64) -> np.ndarray:
    """Piecewise-linear encoding: per column, one input per bin, 0 below it, 1 above, linear inside.

    An MLP then sees where in its distribution each value lies and can bend its response at any
    bin edge, as a tree splits; values beyond the training range saturate (Gorishniy et al., 2022,
    "On Embeddings for Numerical Features in Tabular Deep Learning"). Computed column by column into
    one array of `dtype`, so a large table holds the encoded matrix once.
    """
    widths = [max(1, len(e) - 1) for e in edges]
    out = np.zeros((len(x), sum(widths)), dtype=dtype)
    start = 0
    for j, (column_edges, width) in enumerate(zip(edges, widths, strict=True)):
        e = np.asarray(column_edges, dtype=np.float64)
        if len(e) >= 2:  # a column constant in training keeps its one input at 0
            low, high = e[:-1], e[1:]
            part = x[:, j : j + 1] - low  # one temporary of the column's bins, changed in place
            part /= high - low
            out[:, start : start + width] = np.clip(part, 0.0, 1.0, out=part)
        start += width
    return out
