"""Overrides: `a.b.c=value` pairs set into a recipe's raw data, values parsed as YAML."""

from __future__ import annotations

from typing import Any

import yaml

from dlkit.errors import RecipeError
from dlkit.yaml_io import YamlLimitError, parse

#: keys whose value may be written as a plain string for {discriminator: value}
SHORTHANDS = {"task": "kind"}


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
    except YamlLimitError as e:
        raise RecipeError(source, [f"override '{key}': {e.problem}"]) from None
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError):
        raise RecipeError(source, [f"override '{item}': the value does not fit its YAML tag"]) from None
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
                elif part in node and node[part] is not None and not (depth == 0 and part in SHORTHANDS):
                    problems.append(f"override '{item}': {where} is a {type(node[part]).__name__}, not a section")
                    break
                else:
                    tag = SHORTHANDS.get(part) if depth == 0 else None
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
