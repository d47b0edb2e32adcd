"""The recipe's `tune` section: search space, objective, sampler, pruner (torch-free)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, PositiveInt, model_validator

from dlkit import metric_names
from dlkit.schema_base import Strict


class FloatParam(Strict):
    """A float between low and high (log scale for learning rates)."""

    type: Literal["float"] = Field(description="Parameter type.")
    low: float = Field(description="Smallest value.")
    high: float = Field(description="Largest value.")
    log: bool = Field(False, description="Sample on a log scale (low must be positive).")
    step: float | None = Field(None, gt=0, description="Discretisation step (not with log).")

    @model_validator(mode="after")
    def _range(self) -> FloatParam:
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("step cannot be combined with log")
        if self.step is not None and self.step > self.high - self.low:
            raise ValueError(f"step {self.step} is wider than the range {self.low}..{self.high}: one point to search")
        return self


class IntParam(Strict):
    """An integer between low and high, inclusive."""

    type: Literal["int"] = Field(description="Parameter type.")
    low: int = Field(description="Smallest value.")
    high: int = Field(description="Largest value (inclusive).")
    step: PositiveInt = Field(1, description="Step between values.")
    log: bool = Field(False, description="Sample on a log scale (low must be positive).")

    @model_validator(mode="after")
    def _range(self) -> IntParam:
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        if self.log and self.step != 1:
            raise ValueError("step cannot be combined with log")
        if self.step > self.high - self.low:
            raise ValueError(f"step {self.step} is wider than the range {self.low}..{self.high}: one point to search")
        return self


class CategoricalParam(Strict):
    """One of a list of values (numbers, strings, lists such as layer widths)."""

    type: Literal["categorical"] = Field(description="Parameter type.")
    choices: list[Any] = Field(min_length=1, description="The values to choose from.")


Direction = Literal["minimize", "maximize"]

SpaceParam = Annotated[Union[FloatParam, IntParam, CategoricalParam], Field(discriminator="type")]  # noqa: UP007


class TuneConfig(Strict):
    """What `dlkit tune` searches, how, and by which metric."""

    space: dict[str, SpaceParam] = Field(
        min_length=1, description="Dotted recipe fields (e.g. optim.lr) and the range each one is searched in."
    )
    metric: str | None = Field(
        None, description="Validation metric the search optimises (best epoch of each trial); default val/loss."
    )
    direction: Direction | None = Field(
        None, description="minimize or maximize; inferred from the metric name when unset."
    )
    metrics: list[str] | None = Field(
        None,
        min_length=2,
        max_length=3,
        description="Multi-objective search instead of `metric`: two or three metrics, e.g. "
        "[val/f1_macro, model/params] (model/params and model/latency_ms are logged by every run).",
    )
    directions: list[Direction] | None = Field(
        None, description="One direction per entry of `metrics`; inferred from the metric names when unset."
    )
    sampler: Literal["tpe", "random", "cmaes", "gp", "grid", "qmc", "nsga2"] = Field(
        "tpe", description="Optuna sampler (nsga2: genetic, for multi-objective searches)."
    )
    pruner: Literal["median", "hyperband", "successive_halving", "percentile", "none"] | None = Field(
        None,
        description="Optuna pruner: stops unpromising trials early (single-objective searches only; default median).",
    )
    trials: PositiveInt = Field(20, le=100_000, description="Trials in total (complete plus pruned), across restarts.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the sampler.")
    startup_trials: int = Field(
        5, ge=0, description="Trials before the sampler and pruner start using earlier results."
    )
    warmup_epochs: int = Field(2, ge=0, description="Epochs of each trial that are never pruned.")
    percentile: float = Field(25.0, gt=0, lt=100, description="percentile pruner: prune below this percentile.")
    reports_top: int | None = Field(
        5,
        ge=0,
        description="At the study's end, this many best complete trials (by the first objective) and the "
        "picked one get their test reports (predictions, per-class table, confusion matrix, figures), made "
        "from their checkpoints; the other trials record params, metrics and checkpoints. null: every "
        "trial writes its own as it ends.",
    )

    @model_validator(mode="after")
    def _grid_needs_steps(self) -> TuneConfig:
        if self.sampler == "grid":
            for key, spec in self.space.items():
                if isinstance(spec, FloatParam) and spec.step is None:
                    raise ValueError(
                        f"the grid sampler needs a step for float parameter {key} (or categorical choices)"
                    )
        return self

    @model_validator(mode="after")
    def _objectives(self) -> TuneConfig:
        if self.metrics is None:
            if self.directions is not None:
                raise ValueError("directions goes with metrics (multi-objective); use direction with metric")
            return self
        if self.metric is not None or self.direction is not None:
            raise ValueError("give either metric (one objective) or metrics (several), not both")
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metrics lists a metric twice: {self.metrics}")
        if self.directions is not None and len(self.directions) != len(self.metrics):
            raise ValueError(f"directions needs one entry per metric ({len(self.metrics)})")
        if self.pruner not in (None, "none"):
            raise ValueError("Optuna prunes single-objective searches only: remove pruner or set it to none")
        if self.sampler == "cmaes":
            raise ValueError("the cmaes sampler is single-objective: use tpe, nsga2, gp, random, qmc or grid")
        return self

    @property
    def multi(self) -> bool:
        return self.metrics is not None

    @property
    def objective_metrics(self) -> list[str]:
        """The metric of each objective."""
        return self.metrics or [self.metric or "val/loss"]

    @property
    def objectives(self) -> list[tuple[str, Direction]]:
        """(metric, direction) for each objective; unset directions come from dlkit.metric_names.DIRECTIONS."""
        names = self.objective_metrics
        given: list[Direction | None] = [*self.directions] if self.directions else [self.direction] * len(names)
        return [
            (name, d or ("minimize" if metric_names.lower_is_better(name) else "maximize"))
            for name, d in zip(names, given, strict=True)
        ]

    @property
    def effective_pruner(self) -> str:
        return "none" if self.multi else (self.pruner or "median")
