"""Read a recipe: YAML file + `key=value` overrides -> validated `Recipe`.

Every problem is collected and reported at once, each naming the file and YAML
line (or the override), the dotted field and what is allowed.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from dlkit.errors import RecipeError, RecipeNotFound
from dlkit.recipe.bundled import bundled_recipes
from dlkit.yaml_io import compose, parse

# keys whose value may be written as a plain string for {discriminator: value}
_SHORTHANDS = {"task": "kind"}
# fields holding file paths: relative ones resolve against the recipe's folder (overrides: the working directory)
PATH_FIELDS = (("data", "path"), ("model", "init_from"))


def resolve_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A recipe path: an existing file, or the name of a bundled recipe."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    bundled = bundled_recipes()
    stem = text[:-5] if text.endswith(".yaml") else text
    if "/" not in text and stem in bundled:
        return bundled[stem]
    if path.is_dir():
        raise RecipeNotFound(f"{text} is a folder, not a recipe file")
    close = difflib.get_close_matches(stem, list(bundled), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "`dlkit recipes ls` lists the bundled recipes"
    raise RecipeNotFound(f"recipe '{text}' not found: no such file and no bundled recipe of that name", hint)


def load(name_or_path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Load, override and validate a recipe file (or bundled recipe name)."""
    path = resolve_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError(str(path), [f"{path}: not UTF-8 text; save the recipe as UTF-8"]) from None
    except OSError as e:
        raise RecipeNotFound(f"{path}: cannot read ({e.strerror})") from None
    return load_text(text, source=str(path), overrides=overrides, default_name=path.stem, base_dir=path.parent)


def load_text(
    text: str,
    *,
    source: str = "<recipe>",
    overrides: list[str] | tuple[str, ...] = (),
    default_name: str | None = None,
    base_dir: Path | None = None,
) -> Any:
    """Validate recipe YAML text with overrides applied; raises RecipeError listing every problem.

    Relative paths written in the recipe resolve against `base_dir` (the recipe's folder);
    relative paths given as overrides resolve against the working directory.
    """
    from dlkit.recipe.schema import Recipe

    raw, lines = _parse_yaml(text, source)
    raw = _normalise(raw)
    if default_name and "name" not in raw:
        raw["name"] = default_name
    if base_dir is not None:
        _resolve_paths(raw, base_dir)
    overridden = apply_overrides(raw, overrides, source)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        problems = [_describe(err, raw, lines, overridden, source) for err in e.errors()]
        raise RecipeError(
            source, _unique(problems), hint="`dlkit recipes show NAME --explain` lists every field"
        ) from None


def _resolve_paths(raw: dict[str, Any], base_dir: Path) -> None:
    for keys in PATH_FIELDS:
        node: Any = raw
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            value = Path(node[keys[-1]]).expanduser()
            # a run id is not a path: only what exists beside the recipe, or looks like a file, is resolved
            if not value.is_absolute() and ((base_dir / value).exists() or value.suffix or len(value.parts) > 1):
                node[keys[-1]] = str((base_dir / value).resolve())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _normalise(raw: dict[str, Any]) -> dict[str, Any]:
    for key, tag in _SHORTHANDS.items():
        if isinstance(raw.get(key), str):
            raw[key] = {tag: raw[key]}
    return raw


# --- YAML with line numbers ------------------------------------------------------------


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    try:
        node = compose(text)
        data = parse(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RecipeError(
            source, [f"{where}: YAML syntax error: {problem}"], hint="check indentation and quoting"
        ) from None
    if data is None:
        raise RecipeError(
            source,
            [f"{source}: the recipe is empty"],
            hint="`dlkit recipes cp digits-mlp my.yaml` gives a starting point",
        )
    if not isinstance(data, dict):
        raise RecipeError(
            source, [f"{source}:1: a recipe must be a mapping of sections (name, task, data, model, ...)"]
        )
    lines: dict[tuple[str, ...], int] = {}
    duplicates: list[str] = []
    if node is not None:
        _index_lines(node, (), lines, duplicates, source)
    if duplicates:
        raise RecipeError(source, duplicates, hint="each key may appear once per section")
    return data, lines


def _index_lines(
    node: yaml.Node, prefix: tuple[str, ...], lines: dict[tuple[str, ...], int], dups: list[str], source: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = (*prefix, key)
            if key in seen:
                dups.append(f"{source}:{key_node.start_mark.line + 1} {'.'.join(path)}: key appears twice")
            seen.add(key)
            lines[path] = key_node.start_mark.line + 1
            _index_lines(value_node, path, lines, dups, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            lines[path] = item.start_mark.line + 1
            _index_lines(item, path, lines, dups, source)


# --- overrides -------------------------------------------------------------------------


def parse_override(item: str, source: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into its key path and YAML-parsed value."""
    key, sep, value_text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(source, [f"override '{item}': expected key=value, e.g. optim.lr=3e-4"])
    parts = key.split(".")
    if any(not p for p in parts):
        raise RecipeError(source, [f"override '{item}': empty part in the key '{key}'"])
    try:
        value = parse(value_text) if value_text.strip() else None
    except yaml.YAMLError:
        value = value_text
    return parts, value


def apply_overrides(
    raw: dict[str, Any], overrides: list[str] | tuple[str, ...], source: str
) -> dict[tuple[str, ...], str]:
    """Set each override into `raw` in place; returns the overridden paths and their text."""
    done: dict[tuple[str, ...], str] = {}
    problems: list[str] = []
    for item in overrides:
        parts, value = parse_override(item, source)
        node: Any = raw
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, dict):
                if last:
                    node[part] = value
                elif isinstance(node.get(part), dict | list):
                    node = node[part]
                elif part in node and node[part] is not None and not (depth == 0 and part in _SHORTHANDS):
                    problems.append(f"override '{item}': {where} is a {type(node[part]).__name__}, not a section")
                    break
                else:
                    tag = _SHORTHANDS.get(part) if depth == 0 else None
                    current = node.get(part)
                    node[part] = {tag: current} if tag and isinstance(current, str) else {}
                    node = node[part]
            elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            else:
                problems.append(f"override '{item}': cannot set {where}: its parent is not a section")
                break
        else:
            done[tuple(parts)] = item
    if problems:
        raise RecipeError(source, problems)
    return done


# --- error messages --------------------------------------------------------------------


def _describe(
    err: Any,
    raw: dict[str, Any],
    lines: dict[tuple[str, ...], int],
    overridden: dict[tuple[str, ...], str],
    source: str,
) -> str:
    path = _data_path(err["loc"], raw)
    message = _message(err, path, raw)
    if err["type"].startswith("union_tag"):
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
    from dlkit.recipe.schema import Recipe

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
