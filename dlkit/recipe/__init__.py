"""Recipes: the typed, validated description of one experiment (no torch)."""

from dlkit.recipe.load import load, load_text, resolve_path

__all__ = ["load", "load_text", "resolve_path"]
