"""The strict pydantic base every recipe section derives from."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors; assignments are validated too.

    Validators are built on first use (`defer_build`): validating a recipe builds the one of
    `Recipe`, which covers every section, instead of one per section class at import.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, use_attribute_docstrings=False, defer_build=True
    )


S = TypeVar("S", bound=Strict)


def section(value: object, cls: type[S]) -> S:
    """`value` typed as the section class a module is written for: a data kind's loader takes its own
    kind's `data` section, a task its own `task` section. Another class means a registry entry points
    at the wrong module."""
    if not isinstance(value, cls):
        raise TypeError(f"expected a {cls.__name__} section, got {type(value).__name__}")
    return value
