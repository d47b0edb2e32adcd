"""Residual network for images (He et al.): basic blocks, batch norm, identity or projected skips."""

from __future__ import annotations

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import activation
from dlkit.recipe.architectures import ResNetParams


class BasicBlock(nn.Module):
    """conv-bn-act-conv-bn plus the input (projected when the shape changes), then act."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, act: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            activation(act),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.skip = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))  # type: ignore[no-any-return]


class ResNet(nn.Module):
    """Stem, stages of blocks (downsampling between stages while the map is larger than 1 pixel), pooled head."""

    def __init__(self, params: ResNetParams, shape: tuple[int, int, int], output_dim: int) -> None:
        super().__init__()
        channels, height, width = shape
        first = params.widths[0]
        self.stem = nn.Sequential(
            nn.Conv2d(channels, first, 3, padding=1, bias=False), nn.BatchNorm2d(first), activation(params.activation)
        )
        layers: list[nn.Module] = []
        in_ch, size = first, min(height, width)
        for stage, (out_ch, count) in enumerate(zip(params.widths, params.blocks, strict=True)):
            for block in range(count):
                stride = 2 if stage > 0 and block == 0 and size >= 2 else 1
                size = (size + 1) // 2 if stride == 2 else size
                layers.append(BasicBlock(in_ch, out_ch, stride, params.activation))
                in_ch = out_ch
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(params.dropout), nn.Linear(in_ch, output_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))  # type: ignore[no-any-return]


def build(params: ResNetParams, info: DataInfo) -> nn.Module:
    """A ResNet for (channels, height, width) inputs."""
    shape = info.input_shape
    if info.input_kind != "image" or len(shape) != 3:
        raise BadInput(f"model.arch resnet needs image inputs; this data gives {info.input_kind} of shape {shape}")
    return ResNet(params, (shape[0], shape[1], shape[2]), info.output_dim)
