"""The figures of a comparison report, as HTML fragments with their images inline: overlaid learning
curves, confusion matrices side by side, ROC and precision-recall curves."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from dlkit.tracking.report_data import Column, Report, best_epoch

#: one colour per column, the same in every figure and in the column headers
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def swatch(i: int) -> str:
    """The column's colour, as a small square beside its name."""
    return f'<span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    return img(buffer.getvalue())


def img(data: bytes, alt: str = "") -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"


def curves(report: Report) -> str:
    names = sorted({n for c in report.columns for r in c.members for n in r.curves})
    names = [n for n in names if n.startswith("train/loss")] + [n for n in names if n.startswith("val/")]
    if not names:
        return ""
    plt = _pyplot()
    figures = []
    for name in names:
        fig, ax = plt.subplots(figsize=(4.6, 3.1))
        for i, column in enumerate(report.columns):
            _draw_curve(ax, column, name, PALETTE[i % len(PALETTE)])
        ax.set(xlabel="epoch", title=name)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        figures.append(f"<figure>{_png(fig)}</figure>")
    return (
        "<h2>Learning curves</h2><p class='note'>one colour per column; a group's mean with its folds or seeds "
        "as thin lines; the dot marks the best epoch</p>"
        f"<div class='grid'>{''.join(figures)}</div>"
    )


def _draw_curve(ax: Any, column: Column, name: str, colour: str) -> None:
    series = [r.curves[name] for r in column.members if r.curves.get(name)]
    if not series:
        return
    if len(series) > 1:
        for s in series:
            ax.plot([p[0] for p in s], [p[1] for p in s], color=colour, alpha=0.25, linewidth=0.8)
        longest = max(len(s) for s in series)
        steps = [p[0] for p in max(series, key=len)]
        mean = [np.mean([s[k][1] for s in series if k < len(s)]) for k in range(longest)]
        ax.plot(steps, mean, color=colour, linewidth=1.8, label=column.label)
        return
    s = series[0]
    ax.plot([p[0] for p in s], [p[1] for p in s], color=colour, linewidth=1.6, label=column.label)
    epoch = best_epoch(column.members[0])
    point = next((v for step, v in s if step == epoch), None)
    if point is not None and name.startswith("val/"):
        ax.plot([epoch], [point], "o", color=colour, markersize=5)


def _same_classes(parts: list[Any]) -> list[Any]:
    """A column's members' (classes, ...) figures, when every member has them over the same classes."""
    found = [p for p in parts if p is not None]
    return found if found and all(f[0] == found[0][0] for f in found) else []


def confusions(report: Report) -> str:
    tables = []
    for i, column in enumerate(report.columns):
        found = _same_classes([r.confusion for r in column.members])
        if not found:
            continue
        classes = found[0][0]
        counts = np.sum([np.array(f[1]) for f in found], axis=0)
        if len(classes) > 25:
            continue
        caption = f"{swatch(i)}{escape(column.label)}" + (f" (summed over {column.kind})" if len(found) > 1 else "")
        tables.append(f"<figure><h3>{caption}</h3>{_matrix(classes, counts)}</figure>")
    if not tables:
        return ""
    return (
        "<h2>Confusion matrices</h2><p class='note'>test split; rows are the true class, columns the predicted "
        f"one; shading by share of the row</p><div class='grid'>{''.join(tables)}</div>"
    )


def _matrix(classes: list[str], counts: np.ndarray) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in classes)
    rows = []
    for i, (name, row) in enumerate(zip(classes, counts, strict=True)):
        total = max(int(row.sum()), 1)
        cells = []
        for j, count in enumerate(row):
            share = count / total
            colour = f"rgba(31,119,180,{0.08 + 0.85 * share:.2f})" if count else "transparent"
            ink = "#fff" if share > 0.55 else "inherit"
            weight = "font-weight:700;" if i == j else ""
            cells.append(f"<td style='background:{colour};color:{ink};{weight}'>{int(count)}</td>")
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return f"<table class='cm'><thead><tr><th>true \\ predicted</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def roc_pr(report: Report) -> str:
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    pooled = []
    for i, column in enumerate(report.columns):
        found = _same_classes([r.scores for r in column.members])
        if not found:
            continue
        classes = found[0][0]
        truth = np.concatenate([f[1] for f in found])
        probs = np.concatenate([f[2] for f in found])
        pooled.append((i, column, classes, truth, probs))
    if not pooled:
        return ""
    plt = _pyplot()
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    binary = all(len(p[2]) == 2 for p in pooled)
    for i, column, classes, truth, probs in pooled:
        if len(classes) == 2:
            y, score = (truth == classes[1]).astype(int), probs[:, 1]
        else:  # micro-average: every (row, class) pair is one yes/no decision
            y = (truth[:, None] == np.array(classes)[None, :]).astype(int).ravel()
            score = probs.ravel()
        if y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, score)
        precision, recall, _ = precision_recall_curve(y, score)
        colour = PALETTE[i % len(PALETTE)]
        roc_ax.plot(fpr, tpr, color=colour, linewidth=1.5, label=f"{column.label} ({auc(fpr, tpr):.3f})")
        pr_ax.plot(
            recall, precision, color=colour, linewidth=1.5,
            label=f"{column.label} ({average_precision_score(y, score):.3f})",
        )  # fmt: skip
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (area)")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (average precision)")
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "lower left")
    fig.tight_layout()
    what = f"the positive class ('{pooled[0][2][1]}')" if binary else "micro-averaged over the classes"
    return (
        f"<h2>ROC and precision-recall</h2><p class='note'>test split, {what}; a group's folds or seeds pooled</p>"
        f"<figure>{_png(fig)}</figure>"
    )
