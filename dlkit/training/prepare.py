"""The parts of a run before it exists: data, backbone (with transferred weights), task, device levers."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch

from dlkit import data, models, tasks
from dlkit.process import training_threads
from dlkit.recipe.schema import Recipe
from dlkit.training import transfer


@dataclass
class Prepared:
    """What `prepare` built: the data module, the task around the backbone, and what to report."""

    datamodule: Any
    task: Any
    n_params: int
    frozen: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the raw rows the logged MLflow model shows as its input example (None: no model is logged)
    example: Any = None


@functools.cache
def _torch_default_threads() -> int:
    """PyTorch's own choice (the physical cores), read before dlkit first changes it."""
    return torch.get_num_threads()


def prepare(recipe: Recipe, fold: tuple[int, int] | None, uri: str, served: bool = False) -> Prepared:
    """Seeds, data, backbone and task: every bad-input error surfaces here, before any MLflow run exists.

    `served`: the run will log an MLflow model; its input example goes through the fitted
    preprocessing now, so that a file the model could not take fails before training, not after it.
    """
    t = recipe.trainer
    default_threads = _torch_default_threads()  # read before any run of this process sets threads
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    elif "OMP_NUM_THREADS" not in os.environ:  # the user's setting wins; else leave busy cores alone
        torch.set_num_threads(min(default_threads, training_threads()))
    L.seed_everything(t.seed, workers=True, verbose=False)
    datamodule = data.build(recipe, fold)
    models.check_size(recipe.model, datamodule.info)
    backbone = models.build(recipe.model, datamodule.info)
    notes = []
    if recipe.model.init_from:
        notes.append(transfer.init_from(backbone, recipe.model.init_from, uri))
    frozen = transfer.freeze(backbone, recipe.model.freeze)
    task = tasks.build(recipe, backbone, datamodule.info, uri)
    n_params = sum(p.numel() for p in backbone.parameters())
    if hasattr(datamodule, "on_device"):
        placement: Any = datamodule
        placement.on_device, placement.channels_last = recipe.data.on_device, t.channels_last
        # batch limits count batches, as Lightning's users expect, not groups of them
        grouped = getattr(task, "groups_steps", False) and not t.shortened
        placement.step_group = t.steps_per_call if grouped else 1
    if t.channels_last:
        backbone.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if t.compile:
        backbone.compile()  # in place: parameter names, and so checkpoints, stay the same
    example = _input_example(recipe, datamodule.info) if served else None
    return Prepared(datamodule, task, n_params, frozen, notes, example)


def _input_example(recipe: Recipe, info: Any) -> Any:
    """The first raw rows of the training file, checked through the run's preprocessing (None: nothing to serve)."""
    from dlkit.data.raw_inputs import example_frame, from_frame

    if not (recipe.tracking.enabled and recipe.tracking.log_model and tasks.task_class(recipe.task.kind).predicts):
        return None
    example = example_frame(recipe, info)
    if example is not None:
        from_frame(example, recipe, info, "input example")
    return example
