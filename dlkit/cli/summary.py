"""The tables printed when a run finishes."""

from __future__ import annotations

from typing import Any

from dlkit.cli.common import console
from dlkit.recipe.schema import Recipe

_HEADLINE = (
    "test/acc", "test/precision_macro", "test/recall_macro", "test/f1_macro", "test/f1_weighted", "test/roc_auc", "test/ece",
    "test/rmse", "test/rmse_naive", "test/mae", "test/mae_naive", "test/r2", "test/mse", "test/loss",
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
