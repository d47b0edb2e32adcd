"""Canonical metric names, shared by tasks, callbacks, tracking, tuning and evaluation.

Torch-free on purpose: recipe validation checks monitored metrics against
these names without importing any training code.
"""

from __future__ import annotations

import re
from typing import Literal

TRAIN_LOSS = "train/loss"
VAL_LOSS = "val/loss"
TEST_LOSS = "test/loss"

# classification
VAL_ACC = "val/acc"
VAL_F1_MACRO = "val/f1_macro"
TEST_ACC = "test/acc"
TEST_PRECISION_MACRO = "test/precision_macro"
TEST_RECALL_MACRO = "test/recall_macro"
TEST_F1_MACRO = "test/f1_macro"
TEST_F1_WEIGHTED = "test/f1_weighted"
TEST_ROC_AUC = "test/roc_auc"
#: expected calibration error: how far the predicted class's probability is from how often it is right
TEST_ECE = "test/ece"
#: the bins of test/ece and of the reliability diagram (equal widths of the top probability)
ECE_BINS = 15
TEST_F1_CLASS_PREFIX = "test/f1/"
TEST_PRECISION_CLASS_PREFIX = "test/precision/"
TEST_RECALL_CLASS_PREFIX = "test/recall/"
#: per-class figures: in the run's per_class_metrics table, not one one-point chart each
CLASS_PREFIXES = (TEST_F1_CLASS_PREFIX, TEST_PRECISION_CLASS_PREFIX, TEST_RECALL_CLASS_PREFIX)

# regression
VAL_RMSE = "val/rmse"
VAL_MAE = "val/mae"
TEST_MSE = "test/mse"
TEST_RMSE = "test/rmse"
TEST_MAE = "test/mae"
TEST_R2 = "test/r2"

# forecasting: the same errors for the naive last-value forecast, to show whether the model beats it
TEST_RMSE_NAIVE = "test/rmse_naive"
TEST_MAE_NAIVE = "test/mae_naive"
VAL_RMSE_NAIVE = "val/rmse_naive"
#: recommendation: the share of a user's held-out items among the top k (mean over users), and NDCG@k
VAL_RECALL_AT_K = "val/recall_at_k"
VAL_NDCG_AT_K = "val/ndcg_at_k"
TEST_RECALL_AT_K = "test/recall_at_k"
TEST_NDCG_AT_K = "test/ndcg_at_k"
#: the same for the most popular items of the training split (the classical baseline)
TEST_RECALL_AT_K_POPULAR = "test/recall_at_k_popular"
TEST_NDCG_AT_K_POPULAR = "test/ndcg_at_k_popular"

# reconstruction and anomaly detection
VAL_MSE = "val/mse"
TEST_ANOMALY_THRESHOLD = "test/anomaly_threshold"
TEST_ANOMALY_PRECISION = "test/anomaly_precision"
TEST_ANOMALY_RECALL = "test/anomaly_recall"
TEST_ANOMALY_F1 = "test/anomaly_f1"
TEST_ANOMALY_AUROC = "test/anomaly_auroc"

# generation
VAL_CLASS_FIDELITY = "val/class_fidelity"
TEST_CLASS_FIDELITY = "test/class_fidelity"
TRAIN_LOSS_G = "train/loss_g"
TRAIN_LOSS_D = "train/loss_d"

# model facts, logged by every run
MODEL_PARAMS = "model/params"
MODEL_LATENCY_MS = "model/latency_ms"
#: the temperature a calibrated classifier divides its logits by (task.calibrate: temperature)
MODEL_TEMPERATURE = "model/temperature"
MODEL_METRICS = (MODEL_PARAMS, MODEL_LATENCY_MS)

# metrics by group (task.report_by, dlkit evaluate --by): test/by/<column>/<group>/<measure> per group and
# test/gap/<column>/<measure>, the largest difference of that measure between two groups
BY_GROUP_PREFIX = "test/by/"
GAP_PREFIX = "test/gap/"

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def is_per_class(metric: str) -> bool:
    """Whether `metric` is one class's value (test/f1/<class>): read in the per-class table, not charted
    or summed up beside the run's metrics (a target's test/acc/<column> is not)."""
    return metric.startswith(CLASS_PREFIXES)


def is_by_group(metric: str) -> bool:
    """Whether `metric` is one group's value (test/by/<column>/<group>/<measure>): read in the run's table
    of groups; the gaps between groups (test/gap/...) sum the groups up."""
    return metric.startswith(BY_GROUP_PREFIX)


def safe_part(name: object) -> str:
    """A column or group name as one part of a metric name (no slash: the parts are split on it)."""
    return _UNSAFE.sub("_", str(name)).replace("/", "_").strip() or "_"


def by_group(column: str, group: str, measure: str) -> str:
    return f"{BY_GROUP_PREFIX}{safe_part(column)}/{safe_part(group)}/{measure}"


def gap(column: str, measure: str) -> str:
    return f"{GAP_PREFIX}{safe_part(column)}/{measure}"


def per_class(prefix: str, class_name: str) -> str:
    """The per-class metric name, with the class name made safe for MLflow."""
    return prefix + _UNSAFE.sub("_", str(class_name))


#: Logged for reading, not scored: no direction, never a monitor or an objective.
UNSCORED = (TEST_ANOMALY_THRESHOLD, MODEL_TEMPERATURE)

#: Whether lower or higher is better, for every measure a task logs. A metric's measure is its name
#: without the split or family and without a class: "val/f1_macro" -> "f1_macro", "test/f1/spam" -> "f1".
#: A measure missing here is an error wherever a direction is needed, never a guess.
DIRECTIONS: dict[str, Literal["min", "max"]] = {
    "loss": "min",
    "loss_g": "min",
    "loss_d": "min",
    "mse": "min",
    "rmse": "min",
    "mae": "min",
    "rmse_naive": "min",
    "mae_naive": "min",
    "params": "min",
    "latency_ms": "min",
    "acc": "max",
    "f1_macro": "max",
    "f1_weighted": "max",
    "precision_macro": "max",
    "recall_macro": "max",
    "roc_auc": "max",
    "ece": "min",
    "f1": "max",
    "precision": "max",
    "recall": "max",
    "r2": "max",
    "anomaly_precision": "max",
    "anomaly_recall": "max",
    "anomaly_f1": "max",
    "anomaly_auroc": "max",
    "class_fidelity": "max",
    "recall_at_k": "max",
    "ndcg_at_k": "max",
    "recall_at_k_popular": "max",
    "ndcg_at_k_popular": "max",
    "gap": "min",
    "tpr": "max",
    "fpr": "min",
}


def measure(metric: str) -> str:
    """The measure a metric name reports: `val/rmse` -> `rmse`, `test/recall/spam` -> `recall`,
    `test/by/sex/female/acc` -> `acc`, `test/gap/sex/acc` -> `gap` (a difference: the smaller the better)."""
    if metric.startswith(BY_GROUP_PREFIX):
        return metric.rsplit("/", 1)[-1]
    parts = metric.split("/")
    return parts[1] if len(parts) > 1 else parts[0]


def direction(metric: str) -> Literal["min", "max"]:
    """`min` when lower values of `metric` are better, `max` when higher ones are (from DIRECTIONS)."""
    try:
        return DIRECTIONS[measure(metric)]
    except KeyError:
        raise KeyError(f"metric {metric!r} has no direction in dlkit.metric_names.DIRECTIONS") from None


def lower_is_better(metric: str) -> bool:
    """True for losses, errors and model size or latency; False for scores such as accuracy or F1."""
    return direction(metric) == "min"
