"""Human-readable views of the schema: field tables and resolved recipes with comments."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_LEADING = ("kind", "arch", "name")


@dataclass(frozen=True)
class FieldDoc:
    """One field of a schema, ready to print."""

    name: str
    type: str
    default: str
    description: str


def type_name(annotation: Any) -> str:
    """A short, readable type: int, list[int], relu|gelu, float|null, ..."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return "|".join(type_name(a) for a in args)
    if origin is not None and hasattr(origin, "__metadata__"):
        return type_name(args[0])
    if getattr(annotation, "__metadata__", None) is not None:  # Annotated[...]
        return type_name(args[0]) if args else str(annotation)
    if origin in (list, tuple, dict):
        inner = ", ".join(type_name(a) for a in args if a is not Ellipsis)
        return f"{origin.__name__}[{inner}]"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "section"
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return yaml.safe_dump(_plain(value), default_flow_style=True).strip().removesuffix("...").strip()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def describe_fields(cls: type[BaseModel]) -> list[FieldDoc]:
    """Every field of a pydantic model with its type, default and description."""
    fields = cls.model_fields
    return [
        FieldDoc(name, type_name(fields[name].annotation), _default(fields[name]), fields[name].description or "")
        for name in sorted(fields, key=lambda n: n not in _LEADING)
    ]


def render(recipe: BaseModel, explain: bool = False, header: str | None = None) -> str:
    """The resolved recipe as YAML; with `explain`, each field's description as a comment."""
    lines: list[str] = [header] if header else []
    _render_model(recipe, 0, explain, lines)
    return "\n".join(lines) + "\n"


def _render_model(model: BaseModel, indent: int, explain: bool, lines: list[str]) -> None:
    pad = "  " * indent
    fields = type(model).model_fields
    # the discriminating fields first: they say what the rest of the section means
    order = sorted(fields, key=lambda n: n not in _LEADING)
    for name in order:
        field = fields[name]
        value = getattr(model, name)
        comment = f"  # {field.description}" if explain and field.description else ""
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:{comment}")
            _render_model(value, indent + 1, explain, lines)
        elif isinstance(value, dict) and value:
            lines.append(f"{pad}{name}:{comment}")
            for key, item in value.items():
                lines.append(f"{pad}  {_scalar(key)}: {_scalar(item)}")
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}{comment}")


def _scalar(value: Any) -> str:
    if isinstance(value, BaseModel):  # e.g. one range of tune.space, written inline
        value = value.model_dump(mode="json")
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()
