"""The encoder of a table's image column: its block of pixels read back as an image, then a small CNN or
ResNet."""

from __future__ import annotations

import torch
from torch import nn

from dlkit.data.info import ImageBlock
from dlkit.models.resnet import BasicBlock


class ImageColumn(nn.Module):
    """3x3 convolutions (batch norm, ReLU, 2x2 pooling between them) or residual blocks, averaged over the
    image: one vector."""

    def __init__(self, block: ImageBlock) -> None:
        super().__init__()
        self.start, self.channels, self.size = block.start, block.channels, block.size
        self.stop = block.start + block.width
        layers: list[nn.Module] = []
        width, side = block.channels, block.size
        if block.encoder == "resnet":
            first = block.filters[0]
            layers += [nn.Conv2d(width, first, 3, padding=1, bias=False), nn.BatchNorm2d(first), nn.ReLU()]
            width = first
            for i, filters in enumerate(block.filters):
                stride = 2 if i > 0 and side >= 4 else 1  # downsampling stops before the image is a pixel
                side = (side + 1) // 2 if stride == 2 else side
                layers.append(BasicBlock(width, filters, stride, "relu"))
                width = filters
        for i, filters in enumerate(block.filters if block.encoder != "resnet" else []):
            layers += [nn.Conv2d(width, filters, 3, padding=1), nn.BatchNorm2d(filters), nn.ReLU()]
            if i < len(block.filters) - 1 and side >= 4:  # pooling stops before the image is a pixel
                layers.append(nn.MaxPool2d(2))
                side //= 2
            width = filters
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = width

    def image(self, x: torch.Tensor) -> torch.Tensor:
        """The block of pixels of each row, as (rows, channels, size, size)."""
        return x[:, self.start : self.stop].reshape(-1, self.channels, self.size, self.size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.image(x))  # type: ignore[no-any-return]
