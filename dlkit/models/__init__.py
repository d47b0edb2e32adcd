"""Backbones: `nn.Module`s that map inputs to outputs, built from the architecture registry.

Importing this package is cheap: torch is imported only by `build`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlkit.recipe.architectures import ARCHITECTURES

if TYPE_CHECKING:
    from torch import nn

    from dlkit.data.info import DataInfo


def build(params: Any, info: DataInfo) -> nn.Module:
    """Build the backbone for `params` (a registered parameter model) and the data described by `info`."""
    builder = ARCHITECTURES.get(params.arch).load()
    return builder(params, info)  # type: ignore[no-any-return]


def list_models() -> list[str]:
    """Names of every registered architecture."""
    return ARCHITECTURES.names()
