"""Data kinds: each turns the recipe's `data` section into a LightningDataModule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlkit.recipe.data_kinds import DATA_KINDS
from dlkit.recipe.schema import Recipe

if TYPE_CHECKING:
    from dlkit.data.base import SplitDataModule


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> SplitDataModule:
    """Load, check, split and preprocess the recipe's data; raises DataError on bad data.

    `fold=(i, k)` makes fold i of a k-fold partition the test split.
    """
    loader = DATA_KINDS.get(recipe.data.kind).load()
    return loader(recipe, fold)  # type: ignore[no-any-return]
