"""Multi-layer perceptron on flattened inputs."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.models.layers import dense_stack
from dlkit.models.params import MLPParams


class MLP(nn.Module):
    """Flatten, then dense layers."""

    def __init__(self, params: MLPParams, in_features: int, out_features: int) -> None:
        super().__init__()
        self.net = dense_stack(
            in_features,
            list(params.hidden),
            out_features,
            act=params.activation,
            dropout=params.dropout,
            batch_norm=params.batch_norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


def build(params: MLPParams, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
    """An MLP for inputs of any shape (they are flattened)."""
    return MLP(params, math.prod(input_shape), output_dim)
