"""How well a classifier's probabilities are calibrated: the bins of its top probability, the expected
calibration error, and the reliability diagram (written for every classification run's test split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def calibration_bins(target: np.ndarray, probs: np.ndarray, n_bins: int) -> tuple[list[dict[str, float]], float]:
    """Rows grouped by the probability of their predicted class into `n_bins` equal bins: per bin its
    mean confidence, accuracy and count; and the expected calibration error (the count-weighted gap)."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == target).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # a bin holds (low, high]; a confidence of exactly 0 joins the first, as torchmetrics counts it
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    rows, gap = [], 0.0
    for b in range(n_bins):
        inside = which == b
        count = int(inside.sum())
        conf = float(confidence[inside].mean()) if count else float("nan")
        acc = float(correct[inside].mean()) if count else float("nan")
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count, "confidence": conf,
                     "accuracy": acc})  # fmt: skip
        if count:
            gap += count / max(len(target), 1) * abs(acc - conf)
    return rows, gap


def reliability_diagram(folder: Path, target: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> dict[str, Path]:
    """calibration.csv and reliability_diagram.png: accuracy against confidence per bin, beside the diagonal."""
    import pandas as pd

    rows, ece = calibration_bins(target, probs, n_bins)
    paths = {"calibration_csv": folder / "calibration.csv", "reliability_png": folder / "reliability_diagram.png"}
    pd.DataFrame(rows, columns=["low", "high", "count", "confidence", "accuracy"]).to_csv(
        paths["calibration_csv"], index=False
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = 1.0 / n_bins
    filled = [r for r in rows if r["count"]]
    top.bar([r["low"] for r in filled], [r["accuracy"] for r in filled], width=width, align="edge",
            color="tab:blue", edgecolor="white", label="accuracy")  # fmt: skip
    top.bar([r["low"] for r in filled], [r["confidence"] - r["accuracy"] for r in filled], width=width,
            bottom=[r["accuracy"] for r in filled], align="edge", color="tab:red", alpha=0.35, label="gap")  # fmt: skip
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    top.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=f"Reliability (test split), ECE {ece:.4f}")
    top.legend(fontsize=8, loc="upper left")
    bottom.bar([r["low"] for r in rows], [r["count"] for r in rows], width=width, align="edge", color="tab:grey")
    bottom.set(xlabel="confidence (probability of the predicted class)", ylabel="rows")
    fig.tight_layout()
    fig.savefig(paths["reliability_png"], dpi=110)
    plt.close(fig)
    return paths
