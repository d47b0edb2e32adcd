"""Small building blocks shared by the architecture families."""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name."""
    return _ACTIVATIONS[name]()


def dense_stack(
    in_features: int, hidden: list[int], out_features: int, *, act: str, dropout: float, batch_norm: bool = False
) -> nn.Sequential:
    """Linear layers of the given widths with activation (and optional batch norm, dropout) between them."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(activation(act))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class RowReader(nn.Module):
    """Reads an image (C, H, W) as H time steps of C*W values, for sequence models."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return self.inner(x.permute(0, 2, 1, 3).reshape(n, h, c * w))  # type: ignore[no-any-return]
