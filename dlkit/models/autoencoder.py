"""Autoencoders, dense or convolutional. The encoder is a module of its own, so that a classifier
built with the same layout can start from a pretrained encoder (`model.init_from`)."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import activation, dense_stack
from dlkit.recipe.architectures import AutoencoderParams


def _dense(params: AutoencoderParams, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    size = math.prod(shape)
    act = params.activation
    encoder = nn.Sequential(nn.Flatten(), dense_stack(size, list(params.hidden), params.latent, act=act, dropout=0.0))
    decoder = nn.Sequential(
        activation(act),
        dense_stack(params.latent, list(reversed(params.hidden)), size, act=act, dropout=0.0),
        nn.Unflatten(1, shape),
    )
    return encoder, decoder


def _conv(params: AutoencoderParams, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise BadInput(
            f"model.kind conv needs image inputs; this data gives shape {shape}", hint="use model.kind: dense"
        )
    channels, height, width = shape
    factor = 2 ** len(params.channels)
    if height % factor or width % factor:
        raise BadInput(
            f"model.channels: {len(params.channels)} blocks halve the image {len(params.channels)} times; "
            f"{height}x{width} is not divisible by {factor}",
            hint="use fewer blocks or resize the images",
        )
    act = params.activation
    enc: list[nn.Module] = []
    c = channels
    for out in params.channels:
        enc += [nn.Conv2d(c, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), activation(act)]
        c = out
    small = (c, height // factor, width // factor)
    encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(math.prod(small), params.latent))
    dec: list[nn.Module] = [activation(act), nn.Linear(params.latent, math.prod(small)), nn.Unflatten(1, small)]
    ups = [*reversed(params.channels[:-1]), channels]
    for i, out in enumerate(ups):
        dec.append(nn.ConvTranspose2d(c, out, 4, stride=2, padding=1))
        if i < len(ups) - 1:
            dec += [nn.BatchNorm2d(out), activation(act)]
        c = out
    return encoder, nn.Sequential(*dec)


class Autoencoder(nn.Module):
    """encoder -> code -> decoder (reconstruction), or encoder -> code -> head (prediction)."""

    def __init__(self, params: AutoencoderParams, shape: tuple[int, ...], output_dim: int, reconstruct: bool) -> None:
        super().__init__()
        encoder, decoder = (_conv if params.kind == "conv" else _dense)(params, shape)
        self.encoder = encoder
        self.decoder = decoder if reconstruct else None
        self.head = (
            None
            if reconstruct
            else nn.Sequential(
                activation(params.activation), nn.Dropout(params.dropout), nn.Linear(params.latent, output_dim)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.encoder(x)
        if self.decoder is not None:
            return self.decoder(code)  # type: ignore[no-any-return]
        assert self.head is not None
        return self.head(code)  # type: ignore[no-any-return]


def build(params: AutoencoderParams, info: DataInfo) -> nn.Module:
    """An autoencoder for the data's inputs; reconstructs them for task reconstruction, else predicts."""
    if info.input_kind == "tokens":
        raise BadInput("model.arch autoencoder cannot read token ids")
    return Autoencoder(params, info.input_shape, info.output_dim, reconstruct=info.task == "reconstruction")
