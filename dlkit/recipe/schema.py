"""The recipe: its sections, with one union per registry (data kinds, architectures, tasks), and the
checks that span sections."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dlkit import metric_names
from dlkit.recipe.architectures import ARCHITECTURES, ArchParams
from dlkit.recipe.audio import AudioData as AudioData  # registers audio
from dlkit.recipe.data_kinds import DATA_KINDS, SplitParams
from dlkit.recipe.multi_target import MultiTargetParams as MultiTargetParams  # registers task multi
from dlkit.recipe.overrides import apply_overrides
from dlkit.recipe.recommend import RatingsData as RatingsData  # registers ratings, recommendation, mf, two_tower
from dlkit.recipe.search_space import CategoricalParam, TuneConfig
from dlkit.recipe.sections import Optim, Tracking, Trainer
from dlkit.recipe.tasks import TASKS, TaskParams
from dlkit.schema_base import Strict


def _union(registry: Any, tag: str) -> Any:
    members = tuple(entry.params for entry in registry)
    if len(members) == 1:
        return members[0]
    return Annotated[Union[members], Field(discriminator=tag)]  # noqa: UP007


if TYPE_CHECKING:  # the unions are built from the registries at import time; mypy sees their bases
    ModelConfig = ArchParams
    TaskConfig = TaskParams
    DataConfig = SplitParams
else:
    ModelConfig = _union(ARCHITECTURES, "arch")
    TaskConfig = _union(TASKS, "kind")
    DataConfig = _union(DATA_KINDS, "kind")


class Recipe(Strict):
    """One experiment: data, architecture, task, optimiser, training and tracking."""

    name: str = Field(min_length=1, max_length=250, description="Recipe name; the MLflow run is named after it.")
    description: str = Field("", description="What the experiment is, in a sentence.")
    task: TaskConfig = Field(description="What is learned: classification or regression, with its loss options.")
    data: DataConfig = Field(description="The dataset, its split, scaling and batch size.")
    model: ModelConfig = Field(description="The architecture and its parameters (see `dlkit models`).")
    optim: Optim = Field(default_factory=Optim, description="Optimiser, regularisation and schedule.")
    trainer: Trainer = Field(default_factory=Trainer, description="Epochs, hardware, precision, seeds, clipping.")
    tracking: Tracking = Field(default_factory=Tracking, description="MLflow experiment and run settings.")
    tune: TuneConfig | None = Field(None, description="Search space and settings of `dlkit tune`.")

    @field_validator("task", mode="before")
    @classmethod
    def _task_shorthand(cls, v: Any) -> Any:
        return {"kind": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _task_fits_data(self) -> Recipe:
        """What the task and the data kind declare they accept (recipe/tasks.py, recipe/data_kinds.py)."""
        task, kind = self.task, self.data.kind
        if task.data_kinds and kind not in task.data_kinds:
            raise ValueError(f"task.kind {task.kind} needs data.kind: {' or '.join(task.data_kinds)}, not {kind}")
        if kind == "csv":
            several = task.kind == "multi"
            if several and getattr(self.data, "target", None) is not None:
                raise ValueError("data.target must stay unset with task multi: task.targets names the target columns")
            if not several and getattr(self.data, "target", None) is None:
                raise ValueError(
                    "data.target required field is missing; name the target column (several: task.kind multi with task.targets)"
                )
        task.fits_data(self.data)
        if self.data.tasks and task.kind not in self.data.tasks:
            raise ValueError(
                f"task.kind {task.kind} does not fit data.kind {kind}; set task: {' or '.join(self.data.tasks)}"
            )
        if getattr(task, "report_by", None) and kind != "csv":
            raise ValueError(f"task.report_by needs a table (data.kind: csv), not data.kind {kind}")
        return self

    @model_validator(mode="after")
    def _task_fits_model(self) -> Recipe:
        """What the task and the architecture declare they accept, and the task's training options."""
        task, arch = self.task, self.model.arch
        if task.architectures and arch not in task.architectures:
            raise ValueError(
                f"model.arch {arch} cannot do task {task.kind}; use model.arch: {' or '.join(task.architectures)}"
            )
        if self.model.tasks and task.kind not in self.model.tasks:
            raise ValueError(f"model.arch {arch} is for task {' or '.join(self.model.tasks)}, not {task.kind}")
        for role, what in (("text", "text"), ("images", "image")):
            if getattr(self.data, role, None) and not self.model.reads_text_columns:
                raise ValueError(
                    f"data.{role} needs model.arch: mlp; model.arch {arch} cannot read a table's {what} columns"
                )
        if task.optimizers > 1 and self.trainer.gradient_clip_val is not None:
            raise ValueError(
                f"trainer.gradient_clip_val is not supported for task {task.kind} ({task.optimizers} optimisers); remove it"
            )
        if task.optimizers > 1 and self.optim.scheduler.name != "none":
            raise ValueError(f"optim.scheduler.name must be none for task {task.kind}")
        return self

    @model_validator(mode="after")
    def _unfreeze_needs_freeze(self) -> Recipe:
        if self.trainer.unfreeze_at_epoch is not None and not self.model.freeze:
            raise ValueError("trainer.unfreeze_at_epoch needs model.freeze to name the modules to unfreeze")
        return self

    @model_validator(mode="after")
    def _monitored_metrics_are_logged(self) -> Recipe:
        task: TaskParams = self.task
        unlogged = task.unlogged(self.data)
        logged = [n for n in task.logged_fit_metrics() if not n.startswith("train/") and n not in unlogged]
        checks = [("trainer.monitor", self.trainer.monitor)]
        if self.trainer.early_stopping and self.trainer.early_stopping.monitor:
            checks.append(("trainer.early_stopping.monitor", self.trainer.early_stopping.monitor))
        for where, metric in checks:
            if metric not in logged:
                raise ValueError(
                    f"{where} '{metric}' is not logged by task {task.kind}; choose one of {', '.join(logged)}"
                )
        return self

    @model_validator(mode="after")
    def _tune_space_fits_the_recipe(self) -> Recipe:
        """Every searched field exists and accepts the ends of its range (or each choice)."""
        if self.tune is None:
            return self
        task: TaskParams = self.task
        unlogged = task.unlogged(self.data)
        logged = [n for n in task.logged_fit_metrics() if not n.startswith("train/") and n not in unlogged]
        for field_name, metric in (
            [("metric", self.tune.objective_metrics[0])]
            if not self.tune.multi
            else [(f"metrics[{i}]", name) for i, name in enumerate(self.tune.objective_metrics)]
        ):
            allowed = logged + list(metric_names.MODEL_METRICS) if self.tune.multi else logged
            if metric not in allowed:
                raise ValueError(
                    f"tune.{field_name} '{metric}' is not logged by task {task.kind}; choose one of {', '.join(allowed)}"
                )

        base = self.model_dump(mode="json", exclude={"tune"})
        for key, spec in self.tune.space.items():
            values = spec.choices if isinstance(spec, CategoricalParam) else [spec.low, spec.high]
            for value in values:
                raw = json.loads(json.dumps(base))
                try:
                    apply_overrides(raw, [f"{key}={json.dumps(value)}"], "tune.space")
                    Recipe.model_validate(raw)
                except ValidationError as e:
                    first = e.errors()[0]
                    where = ".".join(str(p) for p in first["loc"])
                    why = str(first["msg"]).removeprefix("Value error, ")
                    raise ValueError(
                        f"tune.space.{key} value {value!r} is refused: " + (f"{where}: {why}" if where else why)
                    ) from None
                except Exception as e:  # an override that cannot be applied (unknown key path)
                    raise ValueError(f"tune.space.{key}: {getattr(e, 'message', e)}") from None
        return self
