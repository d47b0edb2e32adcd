"""Convolutional network: conv blocks, then a dense head."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import activation, dense_stack
from dlkit.recipe.architectures import CNNParams


class CNN(nn.Module):
    """Conv blocks (conv, batch norm, activation; pooling per block), flatten or global pool, dense head."""

    def __init__(self, params: CNNParams, input_shape: tuple[int, int, int], output_dim: int) -> None:
        super().__init__()
        channels, height, width = input_shape
        blocks: list[nn.Module] = []
        for out in params.channels:
            for _ in range(params.convs_per_block):
                blocks.append(nn.Conv2d(channels, out, params.kernel_size, padding="same", bias=not params.batch_norm))
                if params.batch_norm:
                    blocks.append(nn.BatchNorm2d(out))
                blocks.append(activation(params.activation))
                channels = out
            if params.pool != "none" and min(height, width) >= 2:
                blocks.append(nn.MaxPool2d(2) if params.pool == "max" else nn.AvgPool2d(2))
                height, width = height // 2, width // 2
        if params.global_pool:
            blocks.append(nn.AdaptiveAvgPool2d(1))
            height = width = 1
        self.features = nn.Sequential(*blocks)
        head_in = channels * height * width
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(params.dropout) if params.dropout > 0 else nn.Identity(),
            dense_stack(head_in, list(params.hidden), output_dim, act=params.activation, dropout=params.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build(params: CNNParams, info: DataInfo) -> nn.Module:
    """A CNN for (channels, height, width) inputs."""
    shape = info.input_shape
    if info.input_kind != "image" or len(shape) != 3:
        raise BadInput(
            f"model.arch cnn needs image inputs (channels, height, width); this data gives {info.input_kind} of shape {shape}",
            hint="use model.arch: mlp for tables, lstm or gru for sequences and text",
        )
    if math.prod(shape) == 0:
        raise BadInput(f"model.arch cnn: empty input shape {shape}")
    return CNN(params, (shape[0], shape[1], shape[2]), info.output_dim)
