"""Tasks: LightningModules that own the loss, metrics and optimiser around a backbone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlkit.recipe.tasks import TASKS

if TYPE_CHECKING:
    import lightning as L
    from torch import nn

    from dlkit.data.info import DataInfo
    from dlkit.recipe.schema import Recipe
    from dlkit.tasks.base import Task


def task_class(kind: str) -> type[Task]:
    """The LightningModule class registered for task `kind` (what it declares: predicts, explains, ...)."""
    return TASKS.get(kind).load()  # type: ignore[return-value]


def build(recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> L.LightningModule:
    """Wrap `backbone` in the LightningModule of the recipe's task (`tracking_uri` finds runs it refers to)."""
    module_cls: Any = task_class(recipe.task.kind)
    return module_cls(recipe, backbone, info, tracking_uri)  # type: ignore[no-any-return]
