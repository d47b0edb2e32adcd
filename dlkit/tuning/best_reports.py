"""The test reports of a study's best trials, written once the study ends.

A trial run records its params, metrics and checkpoint while the study runs; its test reports
(predictions, per-class table, confusion matrix, figures, learning curves) were most of a short
trial's cost (0.56 s of 0.76 s on breast-cancer-mlp), for trials nobody opens. At the study's end the
`tune.reports_top` best complete trials (by the first objective) and the picked one get them: each
trial's best checkpoint tests again on its split, rebuilt from its recipe (same seed, same split), and
the reports go into the trial's own run. `tune.reports_top: null` has every trial write its own as it
ends instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from dlkit import metric_names as m
from dlkit.errors import DlkitError
from dlkit.recipe.search_space import TuneConfig
from dlkit.training.records import PER_CLASS_TABLE, REPORTS_TAG, per_class_table


def best_trials(study: optuna.Study, cfg: TuneConfig, picked: FrozenTrial | None) -> list[FrozenTrial]:
    """The `tune.reports_top` best complete trials by the first objective (ties: the earlier), and the picked one."""
    top = cfg.reports_top or 0
    sign = 1.0 if cfg.objectives[0][1] == "minimize" else -1.0
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values and t.values[0] == t.values[0]
    ]
    ranked = sorted(done, key=lambda t: (sign * t.values[0], t.number))[:top]
    if picked is not None and all(t.number != picked.number for t in ranked):
        ranked.append(picked)
    return ranked


def write_best_reports(
    study: optuna.Study, cfg: TuneConfig, picked: FrozenTrial | None, tracking_uri: str, say: Callable[[str], None]
) -> int:
    """Write the reports of the best trials that lack them; how many were written. A trial whose reports
    cannot be made (its data moved, its run deleted) is named in a warning; the study still ends."""
    if cfg.reports_top is None:  # every trial wrote its own
        return 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    written = 0
    for trial in best_trials(study, cfg, picked):
        run_id = trial.user_attrs.get("mlflow_run_id")
        if not run_id:
            continue
        try:
            if client.get_run(run_id).data.tags.get(REPORTS_TAG) == "yes":
                continue
            _report(client, run_id, tracking_uri)
            written += 1
        except DlkitError as e:
            say(f"warning: trial {trial.number}: no test reports ({e.message})")
    return written


def _report(client: Any, run_id: str, tracking_uri: str) -> None:
    from dlkit import data, reports
    from dlkit.tasks import groups
    from dlkit.tasks.predictor import Predictor

    predictor = Predictor.load(run_id, tracking_uri, "trial run")
    module = data.build(predictor.recipe)
    task = predictor.task
    test_metrics, by_group = predictor.test(module)
    with tempfile.TemporaryDirectory(prefix="dlkit-reports-") as tmp:
        folder = Path(tmp)
        task.write_reports(folder, module.index["test"])
        for scores in by_group:
            groups.write(folder, scores)
        history = _history(client, run_id)
        if history:
            reports.learning_curves(history, predictor.recipe.trainer.monitor, folder / "learning_curves.png")
        client.log_artifacts(run_id, str(folder))
    table = per_class_table(test_metrics)
    if table is not None:
        client.log_table(run_id, table, PER_CLASS_TABLE)
    client.set_tag(run_id, REPORTS_TAG, "yes")


def _history(client: Any, run_id: str) -> list[dict[str, float]]:
    """The run's epoch rows (epoch from 0, as the training history keeps them) from its metric histories."""
    rows: dict[int, dict[str, float]] = {}
    for name in client.get_run(run_id).data.metrics:
        if name.startswith(("train/", "val/")) and not m.is_per_class(name):
            for point in client.get_metric_history(run_id, name):
                rows.setdefault(int(point.step) - 1, {})[name] = float(point.value)
    return [{"epoch": float(epoch), **values} for epoch, values in sorted(rows.items())]
