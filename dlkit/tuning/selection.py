"""Which trial wins: `--pick`, the best or smallest-within trial, and a finished trial's objective values."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from dlkit import metric_names
from dlkit.errors import BadInput, TrainingFailed
from dlkit.recipe.search_space import TuneConfig


def parse_pick(pick: str, multi: bool) -> float | None:
    """`best` -> None; `smallest-within:D` -> D (multi-objective only)."""
    if pick == "best":
        return None
    prefix = "smallest-within:"
    if not pick.startswith(prefix):
        raise BadInput(f"--pick {pick!r}: use best or smallest-within:TOLERANCE (e.g. smallest-within:0.005)")
    if not multi:
        raise BadInput(f"--pick {pick}: needs a multi-objective search (tune.metrics); use --pick best")
    try:
        tolerance = float(pick[len(prefix) :])
    except ValueError:
        raise BadInput(f"--pick {pick}: the tolerance must be a number, e.g. smallest-within:0.005") from None
    if not tolerance >= 0:
        raise BadInput(f"--pick {pick}: the tolerance must be zero or positive")
    return tolerance


def pick_trial(study: optuna.Study, directions: list[str], tolerance: float | None) -> optuna.trial.FrozenTrial | None:
    """The best complete trial by the first objective (ties broken by the others), or with a tolerance
    the one best on the other objectives among those within `tolerance` of the best first objective."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]

    def key(t: optuna.trial.FrozenTrial, order: list[int]) -> tuple[float, ...]:
        return tuple(signs[i] * float(t.values[i]) for i in order)

    n = len(directions)
    if tolerance is None:
        return min(complete, key=lambda t: key(t, list(range(n))))
    best_first = min(signs[0] * float(t.values[0]) for t in complete)
    within = [t for t in complete if signs[0] * float(t.values[0]) <= best_first + tolerance]
    return min(within, key=lambda t: key(t, [*range(1, n), 0]))


def objective_values(result: Any, cfg: TuneConfig) -> list[float]:
    """Each objective of a finished trial: validation metrics at the best epoch of the first one, model facts as measured."""
    objectives = cfg.objectives
    first, first_direction = objectives[0]
    rows = [row for row in result.history if first in row]
    best_row: dict[str, float] = {}
    if rows:
        choose = min if first_direction == "minimize" else max
        best_row = choose(rows, key=lambda row: row[first])
    values: list[float] = []
    for metric, direction in objectives:
        if metric in metric_names.MODEL_METRICS:
            if metric not in result.model_metrics:
                raise TrainingFailed(f"the run measured no {metric}")
            values.append(float(result.model_metrics[metric]))
        elif metric in best_row:
            values.append(float(best_row[metric]))
        else:
            scores = [row[metric] for row in result.history if metric in row]
            if not scores:
                raise TrainingFailed(f"the run logged no {metric}")
            values.append(float(min(scores) if direction == "minimize" else max(scores)))
    return values
