"""Generative adversarial networks: generator and discriminator, dense or DCGAN-style, optionally conditional."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.recipe.architectures import GANParams


class Generator(nn.Module):
    """Noise (and a one-hot class) -> sample of the data's shape."""

    def __init__(self, params: GANParams, shape: tuple[int, ...], classes: int, bounded: bool) -> None:
        super().__init__()
        self.shape = shape
        inputs = params.latent + classes
        if params.kind == "dense":
            layers: list[nn.Module] = []
            width = inputs
            for h in params.hidden:
                layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
                width = h
            layers.append(nn.Linear(width, math.prod(shape)))
            self.net = nn.Sequential(*layers, nn.Unflatten(1, shape))
        else:
            c, h, w = shape
            k = len(params.channels)
            start = (params.channels[0], h // 2**k, w // 2**k)
            layers = [nn.Linear(inputs, math.prod(start)), nn.Unflatten(1, start), nn.BatchNorm2d(start[0]), nn.ReLU()]
            chans = [*params.channels, c]
            for i in range(k):
                layers.append(nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride=2, padding=1))
                if i < k - 1:
                    layers += [nn.BatchNorm2d(chans[i + 1]), nn.ReLU()]
            self.net = nn.Sequential(*layers)
        self.out: nn.Module = nn.Sigmoid() if bounded else nn.Identity()

    def forward(self, z: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
        if onehot is not None:
            z = torch.cat([z, onehot], dim=1)
        return self.out(self.net(z))  # type: ignore[no-any-return]


class Discriminator(nn.Module):
    """Sample (and one-hot class maps) -> logit of being real."""

    def __init__(self, params: GANParams, shape: tuple[int, ...], classes: int) -> None:
        super().__init__()
        self.dense = params.kind == "dense"
        if self.dense:
            layers: list[nn.Module] = []
            width = math.prod(shape) + classes
            for h in params.hidden:
                layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(params.dropout)]
                width = h
            self.net = nn.Sequential(*layers, nn.Linear(width, 1))
        else:
            c, h, w = shape
            chans = [c + classes, *reversed(params.channels)]
            layers = []
            for i in range(len(params.channels)):
                layers += [
                    nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1),
                    nn.LeakyReLU(0.2),
                    nn.Dropout(params.dropout),
                ]
            k = len(params.channels)
            self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(chans[-1] * (h // 2**k) * (w // 2**k), 1))

    def forward(self, x: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
        if onehot is not None:
            if self.dense:
                x = torch.cat([x.flatten(1), onehot], dim=1)
            else:
                maps = onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
                x = torch.cat([x, maps], dim=1)
        elif self.dense:
            x = x.flatten(1)
        return self.net(x).squeeze(1)  # type: ignore[no-any-return]


class GAN(nn.Module):
    """The pair of networks; `forward` scores samples, `generate` draws new ones."""

    def __init__(self, params: GANParams, shape: tuple[int, ...], classes: int, bounded: bool) -> None:
        super().__init__()
        self.latent = params.latent
        self.classes = classes if params.conditional else 0
        self.generator = Generator(params, shape, self.classes, bounded)
        self.discriminator = Discriminator(params, shape, self.classes)

    def onehot(self, labels: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
        if not self.classes or labels is None:
            return None
        # each label compared with every class: F.one_hot reads the labels' min and max back to check their
        # range on the CPU, a host read per step (labels here are always the data's own, 0 to classes-1)
        return (labels.long().unsqueeze(-1) == torch.arange(self.classes, device=labels.device)).to(dtype)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.discriminator(x, self.onehot(labels, x.dtype))  # type: ignore[no-any-return]

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One sample per label (labels are ignored by an unconditional GAN), in the generator's own dtype
        (bf16 or float64 under trainer.precision bf16-true or 64-true)."""
        dtype = next(self.generator.parameters()).dtype
        z = torch.randn(len(labels), self.latent, device=labels.device, generator=generator).to(dtype)
        return self.generator(z, self.onehot(labels, dtype))  # type: ignore[no-any-return]


def build(params: GANParams, info: DataInfo) -> nn.Module:
    """A GAN for the data's samples; a generator ending in a sigmoid when the data is min-max scaled."""
    shape = info.input_shape
    if info.input_kind == "tokens":
        raise BadInput("model.arch gan cannot generate token ids")
    if params.kind == "dcgan":
        k = len(params.channels)
        if info.input_kind != "image" or len(shape) != 3:
            raise BadInput(
                f"model.kind dcgan needs images; this data gives {info.input_kind}", hint="use model.kind: dense"
            )
        if shape[1] % 2**k or shape[2] % 2**k:
            raise BadInput(
                f"model.channels: {k} upsamplings need image sides divisible by {2**k}, not {shape[1]}x{shape[2]}"
            )
    classes = len(info.class_names or [])
    if params.conditional and classes < 2:
        raise BadInput("model.conditional needs class labels in the data")
    bounded = info.preprocessing.get("scaler", {}).get("method") == "minmax"
    return GAN(params, shape, classes, bounded)
