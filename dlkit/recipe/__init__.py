"""Recipes: the typed, validated description of one experiment (no torch).

The loader (and pydantic with it) is imported on first use, so that listing
bundled recipes stays instant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load", "load_text", "resolve_path"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dlkit.recipe import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'dlkit.recipe' has no attribute {name!r}")
