"""The tables printed when a run finishes."""

from __future__ import annotations

from typing import Any

from dlkit.cli.common import console
from dlkit.recipe.schema import Recipe

_HEADLINE = (
    "test/acc", "test/precision_macro", "test/recall_macro", "test/f1_macro", "test/f1_weighted", "test/roc_auc", "test/ece",
    "test/rmse", "test/rmse_naive", "test/mae", "test/mae_naive", "test/r2", "test/mse",
    "test/recall_at_k", "test/recall_at_k_popular", "test/ndcg_at_k", "test/ndcg_at_k_popular", "test/loss",
)  # fmt: skip


def headline(names: Any) -> list[str]:
    """The headline metrics among `names` in a fixed order; after each, its per-target values of a run with
    several targets (test/acc/<column>, test/rmse/<column>, ...)."""
    present = set(names)
    out: list[str] = []
    for key in _HEADLINE:
        out += [key] if key in present else []
        out += sorted(n for n in present if n.startswith(key + "/"))
    return out


def print_groups(metrics: dict[str, float]) -> None:
    """A table per column of task.report_by / evaluate --by: a row per group, a column per measure, and the
    largest gap between groups."""
    from rich.table import Table

    from dlkit import metric_names as m

    columns: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in metrics.items():
        if m.is_by_group(key):
            column, group, measure = key.removeprefix(m.BY_GROUP_PREFIX).rsplit("/", 2)
            columns.setdefault(column, {}).setdefault(group, {})[measure] = value
    for column, rows in columns.items():
        measures = list(dict.fromkeys(k for row in rows.values() for k in row))
        table = Table(title=f"by {column}", title_justify="left")
        for name in ("group", *measures):
            table.add_column(name, justify="left" if name == "group" else "right")
        for group, row in rows.items():
            table.add_row(group, *(_cell(row.get(k), k) for k in measures))
        gaps = [metrics.get(m.gap(column, k)) for k in measures]
        table.add_row("largest gap", *(_cell(g, "gap") for g in gaps), style="bold")
        console().print(table)


def _cell(value: float | None, measure: str) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if measure == "rows" else f"{value:.4f}"


def best_epoch_line(recipe: Recipe, history: list[dict[str, float]]) -> str | None:
    """Which epoch's checkpoint was tested, and its validation metric (epochs count from 1)."""
    monitor = recipe.trainer.monitor
    rows = [row for row in history if monitor in row]
    if not rows:
        return None
    pick = min if recipe.trainer.resolved_monitor_mode() == "min" else max
    best = pick(rows, key=lambda row: row[monitor])
    return f"best epoch {int(best['epoch']) + 1} of {len(history)}: {monitor} {best[monitor]:.4f} (its checkpoint was tested)"


def _footer(out: Any, result: Any) -> None:
    out.print(f"run id     {result.run_id}")
    out.print(f"store      {result.tracking_uri}")
    out.print(f"time       {result.seconds:.1f} s")
    out.print(f"open it    dlkit ui --tracking-uri {result.tracking_uri}", markup=False)


def print_summary(recipe: Recipe, result: Any) -> None:
    """Test metrics, per-class F1, the run id and how to open the MLflow UI."""
    from rich.table import Table

    out = console()
    table = Table(title=f"{recipe.name}: test metrics", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in headline(result.test_metrics):
        table.add_row(key, f"{result.test_metrics[key]:.4f}")
    per_class = {k: v for k, v in result.test_metrics.items() if k.startswith("test/f1/")}
    if 0 < len(per_class) <= 20:
        for key, value in per_class.items():
            table.add_row(key, f"{value:.4f}")
    out.print(table)
    print_groups(result.test_metrics)
    # a GAN keeps its last checkpoint unless a judge scores the epochs (val/class_fidelity)
    picks_best = recipe.task.kind != "generation" or recipe.trainer.monitor == "val/class_fidelity"
    line = best_epoch_line(recipe, result.history) if picks_best else None
    if line:
        out.print(line, markup=False)
    _footer(out, result)


def print_cv_summary(recipe: Recipe, result: Any) -> None:
    """Mean and standard deviation over the folds of the headline test metrics."""
    from rich.table import Table

    out = console()
    table = Table(title=f"{recipe.name}: {len(result.children)}-fold cross-validation", title_justify="left")
    for column in ("metric", "mean", "std", *(f"fold {i}" for i in range(len(result.children)))):
        table.add_column(column, justify="left" if column == "metric" else "right")
    folded = [k.removeprefix("cv/").removesuffix("_mean") for k in result.test_metrics if k.endswith("_mean")]
    for key in headline(folded):
        if f"cv/{key}_mean" in result.test_metrics:
            folds = [f"{c.test_metrics.get(key, float('nan')):.4f}" for c in result.children]
            table.add_row(
                key,
                f"{result.test_metrics[f'cv/{key}_mean']:.4f}",
                f"{result.test_metrics[f'cv/{key}_std']:.4f}",
                *folds,
            )
    out.print(table)
    _footer(out, result)
