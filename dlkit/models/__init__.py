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


#: bytes each parameter takes while training: weights, gradients and two Adam moments in float32
BYTES_PER_PARAMETER = 16


def check_size(params: Any, info: DataInfo, field: str = "model") -> int:
    """The backbone's parameter count, found by building it on the meta device (no memory is allocated);
    refused when training it would need more memory than this machine has."""
    import os

    import torch

    from dlkit.errors import BadInput

    try:
        with torch.device("meta"):
            n = sum(p.numel() for p in build(params, info).parameters())
    except (NotImplementedError, RuntimeError):  # a builder that needs real tensors: measured when built
        return -1
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    needed = n * BYTES_PER_PARAMETER
    if needed > memory:
        raise BadInput(
            f"{field}: the {params.arch} model has {n:,} parameters; training it needs about {needed / 2**30:,.0f} GiB "
            f"(weights, gradients, optimizer state), more than this machine's {memory / 2**30:,.0f} GiB",
            hint="use narrower or fewer layers",
        )
    return n


def list_models() -> list[str]:
    """Names of every registered architecture."""
    return ARCHITECTURES.names()
