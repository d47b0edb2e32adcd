"""Parameter schema of task multi: several targets of one table, each a classification or a regression."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat, model_validator

from dlkit import metric_names as m
from dlkit.recipe.tasks import TASKS, TaskParams
from dlkit.schema_base import Strict


class TargetSpec(Strict):
    """One column of `task.targets`: what is learned from it and how much its loss counts."""

    column: str = Field(min_length=1, description="The target column's name.")
    kind: Literal["classification", "regression"] = Field(description="classification (labels) or regression.")
    weight: PositiveFloat = Field(1.0, description="Its loss's weight in the summed loss (val/loss).")
    loss: Literal["mse", "mae", "huber"] = Field(
        "mse", description="regression: training loss on the standardised target (huber with delta 1)."
    )
    target_transform: Literal["standard", "log1p"] = Field(
        "standard",
        description="regression: standardised with training statistics, or log(1 + y) first (skewed positive "
        "targets); metrics stay in the target's units.",
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="classification: label smoothing.")
    calibrate: Literal["none", "temperature"] = Field(
        "none",
        description="classification: temperature fits one temperature for this target's logits on the validation "
        "split after training (as task.calibrate of a classification).",
    )

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> TargetSpec:
        # compared with the defaults, not the fields set: a saved recipe (model_dump) sets every field
        regression_only = [
            f for f, default in (("loss", "mse"), ("target_transform", "standard")) if getattr(self, f) != default
        ]
        if self.kind == "classification" and regression_only:
            raise ValueError(f"{regression_only[0]} applies to a regression target, not classification '{self.column}'")
        classification_only = [
            f for f, default in (("label_smoothing", 0.0), ("calibrate", "none")) if getattr(self, f) != default
        ]
        if self.kind == "regression" and classification_only:
            raise ValueError(
                f"{classification_only[0]} applies to a classification target, not regression '{self.column}'"
            )
        return self


def target_metric(prefix: str, measure: str, column: str) -> str:
    """The name of one target's metric: `val/acc/<column>` (the column made safe for MLflow)."""
    return m.per_class(f"{prefix}/{measure}/", column)


#: the per-epoch measures of each kind of target (val/<measure>/<column>)
MULTI_FIT_MEASURES = {"classification": ("loss", "acc", "f1_macro"), "regression": ("loss", "rmse", "mae")}


@TASKS.register("multi", target="dlkit.tasks.multi:MultiTargetTask")
class MultiTargetParams(TaskParams):
    """Several targets of one table learned by one network, each a classification or a regression.

    val/loss is the weighted sum of the targets' losses; each target logs its own metrics
    (val/acc/<column>, test/rmse/<column>, ...), which trainer.monitor and tune.metric can name.
    """

    data_kinds: ClassVar[tuple[str, ...]] = ("csv",)
    kind: Literal["multi"] = Field("multi", description="Task name.")
    targets: list[TargetSpec] = Field(
        min_length=2, description="The target columns (data.target stays unset), each with its kind and weight."
    )

    fit_metrics: ClassVar[tuple[str, ...]] = (m.TRAIN_LOSS, m.VAL_LOSS)
    test_metrics: ClassVar[tuple[str, ...]] = (m.TEST_LOSS,)

    @property
    def target_scaling(self) -> str:
        return "none"  # each target's own scaling lives in the task (task.targets[].target_transform)

    @model_validator(mode="after")
    def _distinct_columns(self) -> MultiTargetParams:
        seen: set[str] = set()
        for i, spec in enumerate(self.targets):
            if spec.column in seen:
                raise ValueError(f"targets[{i}]: column '{spec.column}' is listed twice")
            seen.add(spec.column)
        return self

    def logged_fit_metrics(self) -> list[str]:
        names = list(self.fit_metrics)
        for spec in self.targets:
            names += [target_metric("val", measure, spec.column) for measure in MULTI_FIT_MEASURES[spec.kind]]
        return names
