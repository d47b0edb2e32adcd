"""YAML parsing with the C loader where available; always a safe loader."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Any:
    """Plain data from YAML text (safe: no object construction)."""
    return yaml.load(text, Loader=SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The node tree of YAML text, with line marks."""
    return yaml.compose(text, Loader=SafeLoader)
