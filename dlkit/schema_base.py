"""The strict pydantic base every recipe section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors; assignments are validated too.

    Validators are built on first use (`defer_build`): validating a recipe builds the one of
    `Recipe`, which covers every section, instead of one per section class at import (about 10 ms
    of every command that reads a recipe).
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, use_attribute_docstrings=False, defer_build=True
    )
