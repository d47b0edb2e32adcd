"""Metric directions come from one explicit table: every metric a task logs has one, nothing is guessed."""

from __future__ import annotations

import pytest

from dlkit import metric_names as m
from dlkit.recipe.tasks import TASKS


@pytest.mark.parametrize("task", TASKS.names())
def test_every_metric_a_task_logs_has_a_direction(task: str) -> None:
    params = TASKS.get(task).params
    for metric in (*params.fit_metrics, *params.test_metrics, *m.MODEL_METRICS):
        if metric in m.UNSCORED:
            continue
        assert m.direction(metric) in ("min", "max"), metric


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        (m.VAL_LOSS, "min"),
        (m.TRAIN_LOSS_G, "min"),
        (m.VAL_RMSE, "min"),
        (m.MODEL_LATENCY_MS, "min"),
        (m.MODEL_PARAMS, "min"),
        (m.VAL_ACC, "max"),
        (m.VAL_F1_MACRO, "max"),
        (m.TEST_R2, "max"),
        (m.TEST_ANOMALY_AUROC, "max"),
        (m.VAL_CLASS_FIDELITY, "max"),
        (m.per_class(m.TEST_RECALL_CLASS_PREFIX, "spam"), "max"),
        (m.per_class(m.TEST_F1_CLASS_PREFIX, "loss"), "max"),  # a class named like a measure changes nothing
    ],
)
def test_known_directions(metric: str, direction: str) -> None:
    assert m.direction(metric) == direction


@pytest.mark.parametrize("metric", ["val/nll", "val/perplexity", "val/accuracy_top5"])
def test_a_measure_without_a_direction_is_an_error_not_a_guess(metric: str) -> None:
    with pytest.raises(KeyError, match="no direction"):
        m.direction(metric)


def test_per_class_values_are_told_from_per_target_metrics() -> None:
    assert m.is_per_class("test/f1/spam") and m.is_per_class("test/recall/a b")
    assert not m.is_per_class("test/f1_macro") and not m.is_per_class("test/acc/species")
