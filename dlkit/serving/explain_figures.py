"""What `dlkit explain` writes: a table's bar chart and CSV, an image grid of heatmaps, a series'
heatmap over time, and an HTML page of shaded tokens per text."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def table(values: np.ndarray, names: list[str], folder: Path, method: str) -> list[Path]:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "feature": names,
            "mean_abs_attribution": np.abs(values).mean(axis=0),
            "mean_attribution": values.mean(axis=0),
        }
    ).sort_values("mean_abs_attribution", ascending=False)
    csv = folder / f"{method}.csv"
    frame.to_csv(csv, index=False)
    top = frame.head(25).iloc[::-1]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(top) + 1)))
    ax.barh(top["feature"], top["mean_abs_attribution"], color="tab:blue")
    ax.set(xlabel="mean |attribution|", title=f"Feature attributions ({method})")
    fig.tight_layout()
    png = folder / f"{method}.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return [png, csv]


def image_grid(x: np.ndarray, values: np.ndarray, labels: list[str], path: Path, count: int = 8) -> Path:
    plt = pyplot()
    n = min(count, len(x))
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.4), squeeze=False)
    for i in range(n):
        image = x[i].mean(axis=0)
        heat = np.abs(values[i]).sum(axis=0)
        axes[0][i].imshow(image, cmap="gray")
        axes[0][i].set_title(labels[i], fontsize=8)
        axes[1][i].imshow(heat, cmap="hot")
        for row in (0, 1):
            axes[row][i].axis("off")
    fig.suptitle("inputs (predicted class) and |attribution|", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def spectrograms(x: np.ndarray, values: np.ndarray, labels: list[str], path: Path, seconds: float) -> Path:
    """Sound clips: each clip's log-mel spectrogram (time across, mel bands up) beside its |attribution|."""
    plt = pyplot()
    n = min(4, len(x))
    fig, axes = plt.subplots(n, 2, figsize=(9, 2.2 * n), squeeze=False)
    extent = (0.0, seconds, 0.0, float(x.shape[-1]))
    for i in range(n):
        for ax, image, cmap, title in (
            (axes[i][0], x[i, 0].T, "magma", f"{labels[i]}: log-mel spectrogram"),
            (axes[i][1], np.abs(values[i]).sum(axis=0).T, "hot", "|attribution|"),
        ):
            ax.imshow(image, origin="lower", aspect="auto", cmap=cmap, extent=extent)
            ax.set_title(title, fontsize=9)
            ax.set(xlabel="seconds", ylabel="mel band")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sequence(values: np.ndarray, info: Any, folder: Path, method: str) -> list[Path]:
    import pandas as pd

    mean = np.abs(values).mean(axis=0)  # (time, features)
    columns = info.preprocessing.get("columns") or [f"feature_{j}" for j in range(mean.shape[1])]
    if len(columns) != mean.shape[1]:
        columns = [f"feature_{j}" for j in range(mean.shape[1])]
    csv = folder / f"{method}.csv"
    pd.DataFrame(mean, columns=columns).rename_axis("step").to_csv(csv)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    image = ax.imshow(mean.T, aspect="auto", cmap="hot")
    ax.set(xlabel="time step (oldest to newest)", yticks=range(len(columns)), yticklabels=columns)
    ax.set_title(f"mean |attribution| ({method})")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    png = folder / f"{method}.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return [png, csv]


def text_html(raw: Any, ids: np.ndarray, values: np.ndarray, labels: list[str], vocab: list[str], path: Path) -> Path:
    rows = []
    for i in range(len(ids)):
        scale = float(np.abs(values[i]).max()) or 1.0
        spans = []
        for token, value in zip(ids[i], values[i], strict=True):
            if token == 0:
                continue
            word = html.escape(vocab[token] if token < len(vocab) else "?")
            alpha = min(1.0, abs(float(value)) / scale)
            colour = f"rgba(220,40,40,{alpha:.2f})" if value > 0 else f"rgba(40,90,220,{alpha:.2f})"
            spans.append(f'<span style="background:{colour}" title="{value:.4f}">{word}</span>')
        rows.append(f"<tr><td>{html.escape(labels[i])}</td><td>{' '.join(spans)}</td></tr>")
    page = (
        "<!doctype html><meta charset='utf-8'><title>token attributions</title>"
        "<style>body{font-family:sans-serif}td{padding:4px;vertical-align:top}</style>"
        "<p>Red: towards the explained class; blue: against it.</p>"
        f"<table><tr><th>explained class</th><th>text</th></tr>{''.join(rows)}</table>"
    )
    path.write_text(page, encoding="utf-8")
    return path
