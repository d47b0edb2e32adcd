"""The strict pydantic base every recipe section derives from."""

from __future__ import annotations

import functools
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

#: the error type of a boolean given for a number; its context names the field
BOOL_AS_NUMBER = "bool_as_number"


class Strict(BaseModel):
    """Unknown keys are errors; assignments are validated too.

    Validators are built on first use (`defer_build`): validating a recipe builds the one of
    `Recipe`, which covers every section, instead of one per section class at import.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, use_attribute_docstrings=False, defer_build=True
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data: Any) -> Any:
        """pydantic reads true as 1 in a number field (`data.batch_size=true` would train with batch size 1)."""
        if isinstance(data, dict):
            for key, value in data.items():
                flags = isinstance(value, bool) or (isinstance(value, list) and any(isinstance(v, bool) for v in value))
                if flags and key in cls.model_fields and _numbers_only(cls, key):
                    raise PydanticCustomError(BOOL_AS_NUMBER, "expected a number, not true or false", {"field": key})
        return data


S = TypeVar("S", bound=Strict)


def section(value: object, cls: type[S]) -> S:
    """`value` typed as the section class a module is written for: a data kind's loader takes its own
    kind's `data` section, a task its own `task` section. Another class means a registry entry points
    at the wrong module."""
    if not isinstance(value, cls):
        raise TypeError(f"expected a {cls.__name__} section, got {type(value).__name__}")
    return value


@functools.cache
def _numbers_only(cls: type[BaseModel], field: str) -> bool:
    """Whether a field takes numbers (or lists of them) and never a boolean."""
    found = _types(cls.model_fields[field].annotation)
    return bool(found & {int, float}) and not found & {bool, Any, object}


def _types(annotation: Any) -> set[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {type(v) for v in typing.get_args(annotation)}
    if origin is typing.Annotated:
        return _types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple):
        return set().union(*(_types(a) for a in typing.get_args(annotation) if a is not Ellipsis))
    if origin is not None:
        return {origin}
    return {annotation}
