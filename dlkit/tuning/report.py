"""A study's outcome on its parent run: best values and recipe, trials.csv and pareto.csv, Optuna's figures."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from dlkit.errors import BadInput
from dlkit.recipe.schema import Recipe
from dlkit.recipe.search_space import CategoricalParam, TuneConfig
from dlkit.tuning import display, liveness
from dlkit.tuning.best_reports import write_best_reports
from dlkit.tuning.selection import pick_trial
from dlkit.tuning.space import with_values


@dataclass
class TuneResult:
    """What a tuning session reports back."""

    study: Any
    parent_run_id: str | None
    best_value: float | None
    best_params: dict[str, Any]
    best_recipe: Recipe | None
    #: the objective values of the picked trial (one per metric)
    best_values: list[float] | None = None


def finish(
    study: optuna.Study,
    recipe: Recipe,
    cfg: TuneConfig,
    parent: Any,
    export: Path | None,
    tolerance: float | None,
    say: Callable[[str], None],
) -> TuneResult:
    """Best value, params and recipe on the parent run, with Optuna's figures (and the Pareto front)."""
    import yaml

    metrics = [m for m, _ in cfg.objectives]
    directions: list[str] = [d for _, d in cfg.objectives]
    best = pick_trial(study, directions, tolerance)
    c = display.counts(study)
    summary = {
        "trials/complete": float(c["complete"]),
        "trials/pruned": float(c["pruned"]),
        "trials/failed": float(c["failed"]),
    }
    if best is None:
        parent.log_metrics(summary, step=0)
        say("no trial completed yet")
        return TuneResult(study, parent.run_id, None, {}, None)
    values = {
        k: (json.loads(v) if isinstance(v, str) and isinstance(cfg.space[k], CategoricalParam) else v)
        for k, v in best.params.items()
    }
    best_recipe = with_values(recipe, values)
    text = "# dlkit train best-recipe.yaml\n" + yaml.safe_dump(
        best_recipe.model_dump(mode="json", exclude={"tune"}), sort_keys=False
    )
    summary.update({f"best/{m}": float(v) for m, v in zip(metrics, best.values, strict=True)})
    summary["best/trial"] = float(best.number)
    if cfg.multi:
        summary["pareto/size"] = float(len(study.best_trials))
    parent.log_metrics(summary, step=0)
    parent.set_tags({f"best.{k}": json.dumps(v) for k, v in values.items()})
    write_best_reports(study, cfg, best, parent.tracking_uri, say)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "best-recipe.yaml").write_text(text)
        _tables(study, metrics, folder)
        _figures(study, metrics, folder)
        parent.log_artifacts(folder)
    if export is not None:
        try:
            export.write_text(text.replace("# dlkit train best-recipe.yaml", f"# dlkit train {export}"))
        except OSError as e:
            raise BadInput(f"--export {export}: cannot write ({e.strerror})") from None
        say(f"best recipe written to {export}")
    shown = ", ".join(f"{m} {v:.4g}" for m, v in zip(metrics, best.values, strict=True))
    say(f"{'picked' if tolerance is not None else 'best'} trial {best.number}: {shown}  {display.params_text(values)}")
    return TuneResult(study, parent.run_id, float(best.values[0]), values, best_recipe, list(best.values))


def _tables(study: optuna.Study, metrics: list[str], folder: Path) -> None:
    """trials.csv (every trial) and, for several objectives, pareto.csv (the non-dominated ones)."""
    import csv

    def write(path: Path, trials: list[optuna.trial.FrozenTrial]) -> None:
        keys = sorted({k for t in trials for k in t.params})
        with path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["trial", "state", *metrics, "seconds", *keys])
            for t in sorted(trials, key=lambda t: t.number):
                scores = list(t.values) if t.values else [""] * len(metrics)
                if len(scores) != len(metrics):  # a pruned trial keeps its last intermediate value only
                    scores = [*scores, *[""] * (len(metrics) - len(scores))]
                seconds = f"{t.duration.total_seconds():.2f}" if t.duration else ""
                out.writerow([t.number, t.state.name, *scores, seconds, *(t.params.get(k, "") for k in keys)])

    write(
        folder / "trials.csv", [t for t in study.get_trials(deepcopy=False) if not t.system_attrs.get(liveness.SURPLUS)]
    )
    if len(metrics) > 1:
        write(folder / "pareto.csv", study.best_trials)


def _figures(study: optuna.Study, metrics: list[str], folder: Path) -> None:
    """Optuna's matplotlib figures; each needs enough trials, so each is optional."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    first: dict[str, Any] = {}
    if len(metrics) > 1:
        first = {"target": lambda t: t.values[0], "target_name": metrics[0]}
    plots: dict[str, Callable[[], Any]] = {
        "optimization_history.png": lambda: ovm.plot_optimization_history(study, **first),
        "param_importances.png": lambda: ovm.plot_param_importances(study, **first),
        "parallel_coordinate.png": lambda: ovm.plot_parallel_coordinate(study, **first),
    }
    if len(metrics) == 1 and any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        plots["intermediate_values.png"] = lambda: ovm.plot_intermediate_values(study)
    else:
        plots["pareto_front.png"] = lambda: ovm.plot_pareto_front(study, target_names=metrics)
    for filename, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = plot()
            figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            figure.set_size_inches(8, 5)
            figure.tight_layout()
            figure.savefig(folder / filename, dpi=100)
            plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError):
            plt.close("all")
