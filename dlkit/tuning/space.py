"""The search space: one value per searched field, and the recipe they make."""

from __future__ import annotations

import json
from typing import Any

import optuna

from dlkit.recipe.loader import with_overrides
from dlkit.recipe.schema import Recipe
from dlkit.recipe.search_space import FloatParam, IntParam, TuneConfig


def suggest(trial: optuna.Trial, cfg: TuneConfig) -> dict[str, Any]:
    """One value per searched field."""
    values: dict[str, Any] = {}
    for key, spec in cfg.space.items():
        if isinstance(spec, FloatParam):
            values[key] = trial.suggest_float(key, spec.low, spec.high, log=spec.log, step=spec.step)
        elif isinstance(spec, IntParam):
            values[key] = trial.suggest_int(key, spec.low, spec.high, step=spec.step, log=spec.log)
        else:
            # choices may be lists (layer widths): Optuna stores their JSON text
            values[key] = json.loads(trial.suggest_categorical(key, [json.dumps(c) for c in spec.choices]))
    return values


def with_values(recipe: Recipe, values: dict[str, Any]) -> Recipe:
    """The recipe with dotted fields set to `values`, validated with the loader's messages."""
    return with_overrides(recipe, [f"{k}={json.dumps(v)}" for k, v in values.items()], "tune")
