"""Validation errors as messages: the file and YAML line (or the override), the dotted field, what is allowed."""

from __future__ import annotations

import difflib
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from dlkit.recipe.schema import Recipe
from dlkit.schema_base import BOOL_AS_NUMBER


def problems(
    error: ValidationError,
    raw: dict[str, Any],
    lines: dict[tuple[str, ...], int],
    overridden: dict[tuple[str, ...], str],
    source: str,
) -> list[str]:
    """One message per problem pydantic found, each once, in its order."""
    return list(dict.fromkeys(describe(err, raw, lines, overridden, source) for err in error.errors()))


def describe(
    err: Any,
    raw: dict[str, Any],
    lines: dict[tuple[str, ...], int],
    overridden: dict[tuple[str, ...], str],
    source: str,
) -> str:
    path = _data_path(err["loc"], raw)
    message = _message(err, path, raw)
    if err["type"] == BOOL_AS_NUMBER:  # raised for its section: the field is in the context
        path = (*path, str(err["ctx"]["field"]))
    elif err["type"].startswith("union_tag"):
        path = (*path, str(err["ctx"]["discriminator"]).strip("'"))
    elif not path:
        # a cross-field check names the field it is about first: "trainer.monitor 'x' is not ..."
        first, _, rest = message.partition(" ")
        if "." in first and rest:
            path, message = tuple(first.split(".")), rest
    dotted = ".".join(path) or "(recipe)"
    origin = next((text for key, text in overridden.items() if path[: len(key)] == key), None)
    if origin is not None:
        where = f"override '{origin}'"
    else:
        line = next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)
        where = f"{source}:{line}" if line else source
    return f"{where} {dotted}: {message}"


def _data_path(loc: tuple[Any, ...], raw: Any) -> tuple[str, ...]:
    """The loc as keys of the user's data: drop union tags that pydantic inserts."""
    out: list[str] = []
    node = raw
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node)
        ):
            node = node[part]
            out.append(str(part))
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part, node):
            out.append(part)  # a missing or extra key
            node = None
        elif not isinstance(node, dict | list):
            out.append(str(part))
    return tuple(out)


def _is_tag(part: str, node: dict[str, Any]) -> bool:
    return part in {str(v) for v in node.values() if isinstance(v, str)} or part.startswith(
        ("function-", "tagged-union")
    )


def _message(err: Any, path: tuple[str, ...], raw: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1], raw)
        close = difflib.get_close_matches(path[-1], allowed, n=1, cutoff=0.5)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown key; {suggestion}allowed: {', '.join(allowed)}"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        given = str(ctx.get("tag", ""))
        close = difflib.get_close_matches(given, tags, n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown value '{given}'{suggestion}; choose one of {', '.join(tags)}"
    if kind == "union_tag_not_found":
        return "required field is missing"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "literal_error":
        msg = f"{msg}, got {err.get('input')!r}"
    return msg


def _allowed_keys(path: tuple[str, ...], raw: dict[str, Any]) -> list[str]:
    cls: Any = Recipe
    node: Any = raw
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
        field = cls.model_fields.get(part) if _is_model(cls) else None
        if field is None:
            return []
        cls = _pick_model(field.annotation, node)
        if cls is None:
            return []
    return sorted(cls.model_fields) if _is_model(cls) else []


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, BaseModel)


def _pick_model(annotation: Any, value: Any) -> Any:
    """The BaseModel inside `annotation` that matches `value` (by its discriminator)."""
    candidates: list[Any] = []

    def walk(a: Any) -> None:
        if _is_model(a):
            candidates.append(a)
        for arg in get_args(a):
            walk(arg)

    walk(annotation)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if isinstance(value, dict):
        for cls in candidates:
            for name, field in cls.model_fields.items():
                options = get_args(field.annotation)
                if name in value and options and value[name] in options:
                    return cls
    return None
