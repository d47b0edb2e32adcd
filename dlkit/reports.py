"""Files written for every run: predictions, confusion matrix, classification report, curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_classification(
    folder: Path, index: np.ndarray, target: np.ndarray, probs: np.ndarray, class_names: list[str]
) -> dict[str, Path]:
    """predictions.csv, confusion_matrix.csv/.png, classification_report.json and ROC/PR curves for a test split."""
    import pandas as pd
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(class_names)))
    predicted = probs.argmax(axis=1)
    frame = pd.DataFrame(
        {
            "index": index,
            "true": [class_names[t] for t in target],
            "predicted": [class_names[p] for p in predicted],
            **{f"prob_{name}": probs[:, i] for i, name in enumerate(class_names)},
        }
    )
    paths = {"predictions": folder / "predictions.csv"}
    frame.to_csv(paths["predictions"], index=False)

    cm = confusion_matrix(target, predicted, labels=labels)
    table = pd.DataFrame(cm, index=pd.Index(class_names, name="true"), columns=class_names)
    paths["confusion_csv"] = folder / "confusion_matrix.csv"
    table.to_csv(paths["confusion_csv"])
    paths["confusion_png"] = folder / "confusion_matrix.png"
    _plot_confusion(cm, class_names, paths["confusion_png"])

    report = classification_report(
        target, predicted, labels=labels, target_names=class_names, output_dict=True, zero_division=0
    )
    paths["report"] = folder / "classification_report.json"
    paths["report"].write_text(json.dumps(report, indent=2))
    paths.update(roc_pr_curves(folder, target, probs, class_names))
    return paths


def roc_pr_curves(folder: Path, target: np.ndarray, probs: np.ndarray, class_names: list[str]) -> dict[str, Path]:
    """ROC and precision-recall curves (the positive class when binary, one-vs-rest otherwise), with their areas."""
    import pandas as pd
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    classes = [1] if len(class_names) == 2 else list(range(len(class_names)))
    plt = pyplot()
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    rows = []
    for c in classes:
        truth = (target == c).astype(int)
        if truth.min() == truth.max():  # a class absent from the split has no curve
            continue
        fpr, tpr, _ = roc_curve(truth, probs[:, c])
        precision, recall, _ = precision_recall_curve(truth, probs[:, c])
        roc_auc, ap = float(auc(fpr, tpr)), float(average_precision_score(truth, probs[:, c]))
        rows.append({"class": class_names[c], "roc_auc": roc_auc, "average_precision": ap})
        roc_ax.plot(fpr, tpr, linewidth=1.2, label=f"{class_names[c]} ({roc_auc:.3f})")
        pr_ax.plot(recall, precision, linewidth=1.2, label=f"{class_names[c]} ({ap:.3f})")
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (area)")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (average precision)")
    for ax in (roc_ax, pr_ax):
        if len(rows) <= 12:
            ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "lower left")
    fig.tight_layout()
    paths = {"roc_pr_png": folder / "roc_pr_curves.png", "roc_pr_csv": folder / "roc_pr_auc.csv"}
    fig.savefig(paths["roc_pr_png"], dpi=110)
    plt.close(fig)
    pd.DataFrame(rows, columns=["class", "roc_auc", "average_precision"]).to_csv(paths["roc_pr_csv"], index=False)
    return paths


def _plot_confusion(cm: np.ndarray, class_names: list[str], path: Path) -> None:
    plt = pyplot()
    k = len(class_names)
    size = min(4 + 0.45 * k, 16)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(
        xticks=range(k),
        yticks=range(k),
        xticklabels=class_names,
        yticklabels=class_names,
        xlabel="predicted",
        ylabel="true",
        title="Confusion matrix (test split)",
    )
    plt.setp(ax.get_xticklabels(), rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    if k <= 30:
        threshold = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if cm[i, j] > threshold else "black",
                )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_regression(folder: Path, index: np.ndarray, target: np.ndarray, pred: np.ndarray) -> dict[str, Path]:
    """predictions.csv and a residual plot for a test split."""
    import pandas as pd

    target = target.reshape(len(target), -1)
    pred = pred.reshape(len(pred), -1)
    frame = pd.DataFrame({"index": index})
    if target.shape[1] == 1:
        frame["true"], frame["predicted"] = target[:, 0], pred[:, 0]
    else:
        for j in range(target.shape[1]):
            frame[f"true_{j}"], frame[f"predicted_{j}"] = target[:, j], pred[:, j]
    paths = {"predictions": folder / "predictions.csv"}
    frame.to_csv(paths["predictions"], index=False)

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.scatter(target.ravel(), pred.ravel(), s=10, alpha=0.7)
    low, high = float(min(target.min(), pred.min())), float(max(target.max(), pred.max()))
    left.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    left.set(xlabel="true", ylabel="predicted", title="Predicted against true (test)")
    right.scatter(pred.ravel(), (target - pred).ravel(), s=10, alpha=0.7)
    right.axhline(0, color="grey", linestyle="--", linewidth=1)
    right.set(xlabel="predicted", ylabel="residual (true - predicted)", title="Residuals (test)")
    fig.tight_layout()
    paths["residuals"] = folder / "residuals.png"
    fig.savefig(paths["residuals"], dpi=110)
    plt.close(fig)
    return paths


def learning_curves(history: list[dict[str, float]], monitor: str, path: Path) -> Path:
    """Train and validation loss, and the monitored metric, per epoch."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) + 1 for row in history]
    show_monitor = monitor not in ("val/loss", "train/loss")
    fig, axes = plt.subplots(1, 2 if show_monitor else 1, figsize=(10 if show_monitor else 5.5, 4), squeeze=False)
    ax = axes[0][0]
    for key in ("train/loss", "val/loss"):
        ax.plot(epochs, [row.get(key, np.nan) for row in history], marker=".", label=key)
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax.legend()
    if show_monitor:
        ax = axes[0][1]
        ax.plot(epochs, [row.get(monitor, np.nan) for row in history], marker=".", color="tab:green", label=monitor)
        ax.set(xlabel="epoch", ylabel=monitor, title=monitor)
        ax.legend()
    for row_axes in axes:
        for axis in row_axes:
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_anomalies(
    folder: Path,
    index: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    labels: list[str] | None,
    anomaly_classes: list[str],
) -> dict[str, Path]:
    """predictions.csv (score, flagged, label) and a histogram of the scores with the threshold."""
    import pandas as pd

    frame = pd.DataFrame({"index": index, "score": scores, "anomaly": scores > threshold})
    if labels is not None:
        frame["label"] = labels
        if anomaly_classes:
            frame["is_anomaly_class"] = frame["label"].isin(anomaly_classes)
    paths = {"predictions": folder / "predictions.csv"}
    frame.to_csv(paths["predictions"], index=False)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    if anomaly_classes and labels is not None:
        mask = frame["is_anomaly_class"].to_numpy()
        ax.hist(scores[~mask], bins=40, alpha=0.7, label="normal classes")
        ax.hist(scores[mask], bins=40, alpha=0.7, label="anomaly classes")
        ax.legend()
    else:
        ax.hist(scores, bins=40, alpha=0.8)
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    ax.set(xlabel="reconstruction error", ylabel="test samples", title=f"Anomaly scores (threshold {threshold:.3g})")
    fig.tight_layout()
    paths["scores"] = folder / "anomaly_scores.png"
    fig.savefig(paths["scores"], dpi=110)
    plt.close(fig)
    return paths


def reconstructions(inputs: np.ndarray, outputs: np.ndarray, path: Path) -> Path:
    """Inputs (top row) beside their reconstructions (bottom row)."""
    plt = pyplot()
    n = len(inputs)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 2.8), squeeze=False)
    for i in range(n):
        for row, array in enumerate((inputs[i], outputs[i])):
            ax = axes[row][i]
            if array.ndim == 3:
                image = array[0] if array.shape[0] == 1 else np.clip(array.transpose(1, 2, 0), -3, 3)
                ax.imshow(image, cmap="gray" if array.shape[0] == 1 else None)
            else:
                ax.plot(array.ravel(), linewidth=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][i].set_title(str(i), fontsize=8)
    axes[0][0].set_ylabel("input")
    axes[1][0].set_ylabel("output")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sample_grid(images: np.ndarray, rows: int, path: Path, title: str, row_labels: list[str] | None = None) -> Path:
    """Generated samples on a grid (one row per class when conditional)."""
    plt = pyplot()
    cols = int(np.ceil(len(images) / rows))
    fig, axes = plt.subplots(rows, cols, figsize=(0.9 * cols + 0.6, 0.9 * rows + 0.5), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(images):
            image = images[k]
            ax.imshow(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0).clip(0, 1), cmap="gray")
    if row_labels:
        for r, label in enumerate(row_labels[:rows]):
            axes[r][0].set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
