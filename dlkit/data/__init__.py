"""Data kinds: each turns the recipe's `data` section into a LightningDataModule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlkit.data.params import DATA_KINDS

if TYPE_CHECKING:
    from dlkit.data.base import TensorDataModule
    from dlkit.recipe.schema import Recipe


def build(recipe: Recipe) -> TensorDataModule:
    """Load, check, split and scale the recipe's data; raises DataError on bad data."""
    loader = DATA_KINDS.get(recipe.data.kind).load()
    return loader(recipe)  # type: ignore[no-any-return]
