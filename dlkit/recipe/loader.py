"""Read a recipe: YAML file + `key=value` overrides -> validated `Recipe`.

Every problem is collected and reported at once, each naming the file and YAML
line (or the override), the dotted field and what is allowed.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dlkit.errors import RecipeError, RecipeNotFound
from dlkit.recipe.architectures import ARCHITECTURES
from dlkit.recipe.bundled import bundled_recipes
from dlkit.recipe.data_kinds import DATA_KINDS
from dlkit.recipe.messages import problems
from dlkit.recipe.overrides import SHORTHANDS, apply_overrides
from dlkit.recipe.schema import Recipe
from dlkit.recipe.tasks import TASKS
from dlkit.yaml_io import YamlLimitError, compose, parse

# fields holding file paths: relative ones resolve against the recipe's folder (overrides: the working directory)
PATH_FIELDS = (("data", "path"), ("model", "init_from"))
HINT = "`dlkit recipes show NAME --explain` lists every field"


def resolve_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A recipe path: an existing file, or the name of a bundled recipe."""
    text = str(name_or_path)
    if not text.strip():  # Path("") is the working folder: say what was given instead
        raise RecipeNotFound("RECIPE: the name is empty", hint="`dlkit recipes ls` lists the bundled recipes")
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = bundled_recipes()
    stem = text[:-5] if text.endswith(".yaml") else text
    if "/" not in text and stem in bundled:
        return bundled[stem]
    if path.is_dir():
        raise RecipeNotFound(f"'{text}' is a folder, not a recipe file")
    if "=" in text and not text.endswith((".yaml", ".yml")):
        raise RecipeNotFound(
            f"'{text}' is an override, but no recipe comes before it",
            hint="name the recipe (or data file) first: dlkit train RECIPE key=value ...",
        )
    close = difflib.get_close_matches(stem, list(bundled), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "`dlkit recipes ls` lists the bundled recipes"
    raise RecipeNotFound(f"recipe '{text}' not found: no such file and no bundled recipe of that name", hint)


def load(name_or_path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
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
) -> Recipe:
    """Validate recipe YAML text with overrides applied; raises RecipeError listing every problem.

    Relative paths written in the recipe resolve against `base_dir` (the recipe's folder);
    relative paths given as overrides resolve against the working directory.
    """
    raw, lines = _parse_yaml(text, source)
    raw = _normalise(raw)
    if default_name and "name" not in raw:
        raw["name"] = default_name
    if base_dir is not None:
        _resolve_paths(raw, base_dir)
    overridden = apply_overrides(raw, overrides, source)
    _retarget(raw, overridden)
    return _validate(raw, lines, overridden, source)


def _retarget(raw: dict[str, Any], overridden: dict[tuple[str, ...], str]) -> None:
    """A section whose kind an override changes keeps only what the new kind knows.

    `data.kind=csv` on a builtin recipe leaves `data.name` behind; that key described the old kind,
    not a mistake of the user's, so it goes. Keys the overrides set stay and are checked as usual.
    """
    for section, tag, registry in (
        ("data", "kind", DATA_KINDS),
        ("task", "kind", TASKS),
        ("model", "arch", ARCHITECTURES),
    ):
        node = raw.get(section)
        if (section, tag) not in overridden or not isinstance(node, dict):
            continue
        if not isinstance(node.get(tag), str) or node[tag] not in registry:
            continue  # an unknown kind: the validation says so
        known = getattr(registry.get(node[tag]).params, "model_fields", {})
        set_here = {keys[1] for keys in overridden if len(keys) > 1 and keys[0] == section}
        for key in [k for k in node if k not in known and k not in set_here]:
            del node[key]


def with_overrides(recipe: Recipe, overrides: list[str] | tuple[str, ...], source: str = "override") -> Recipe:
    """`recipe` with `key=value` overrides applied, validated again; RecipeError names each override refused."""
    raw = recipe.model_dump(mode="json")
    return _validate(raw, {}, apply_overrides(raw, overrides, source), source)


def _validate(
    raw: dict[str, Any], lines: dict[tuple[str, ...], int], overridden: dict[tuple[str, ...], str], source: str
) -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        raise RecipeError(source, problems(e, raw, lines, overridden, source), hint=HINT) from None


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


def _normalise(raw: dict[str, Any]) -> dict[str, Any]:
    for key, tag in SHORTHANDS.items():
        if isinstance(raw.get(key), str):
            raw[key] = {tag: raw[key]}
    return raw


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    node: yaml.Node | None = None
    try:
        node = compose(text)
        data = parse(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        if line is None and isinstance(getattr(e, "position", None), int):  # a reader error: a bad character
            line = text[: e.position].count("\n") + 1  # type: ignore[attr-defined]
        where = f"{source}:{line}" if line else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if problem == "but found another document":
            problem = "a second YAML document (---); a recipe is one document"
        if isinstance(e, YamlLimitError):
            raise RecipeError(source, [f"{where}: {problem}"], hint="a recipe is a small mapping of sections") from None
        raise RecipeError(
            source, [f"{where}: YAML syntax error: {problem}"], hint="check indentation and quoting"
        ) from None
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError) as e:
        # a tag its value does not fit (`!!float x`, `!!bool maybe`): raised while constructing, not parsing
        why = str(e) if isinstance(e, ValueError) else "the value does not fit its tag"
        raise RecipeError(
            source, [f"{_tagged_line(node, text, source)}: YAML tag: {why}"], hint="check the !! tags"
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


def _tagged_line(node: yaml.Node | None, text: str, source: str) -> str:
    """`source:line` of the first node written with an explicit tag (`!!float x`), else `source`."""
    todo = [node] if node is not None else []
    while todo:
        current = todo.pop(0)
        mark = current.start_mark
        if text[mark.index : mark.index + 1] == "!":
            return f"{source}:{mark.line + 1}"
        if isinstance(current, yaml.MappingNode):
            todo.extend(n for pair in current.value for n in pair)
        elif isinstance(current, yaml.SequenceNode):
            todo.extend(current.value)
    return source


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
