"""Transformer encoder for token ids, (time, feature) sequences and images read row by row."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import RowReader
from dlkit.recipe.architectures import TransformerParams


def sinusoidal(length: int, width: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10_000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class TransformerEncoderNet(nn.Module):
    """Embed, add positions, (prepend a cls token), encode with padding masks, pool, classify."""

    def __init__(
        self, params: TransformerParams, output_dim: int, vocab_size: int = 0, features: int = 0, length: int = 512
    ) -> None:
        super().__init__()
        d = params.d_model
        self.tokens = vocab_size > 0
        self.embed: nn.Module = nn.Embedding(vocab_size, d, padding_idx=0) if self.tokens else nn.Linear(features, d)
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if params.pooling == "cls" else None
        span = max(length, params.max_length) + 1
        if params.positional == "learned":
            self.positions = nn.Parameter(torch.randn(1, span, d) * 0.02)
        else:
            self.register_buffer("positions", sinusoidal(span, d)[None], persistent=False)
        layer = nn.TransformerEncoderLayer(
            d, params.heads, params.ff_dim, params.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, params.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(params.dropout)
        self.head = nn.Linear(d, output_dim)
        self.pooling = params.pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (x == 0) if self.tokens else None
        h = self.embed(x)
        if self.cls is not None:
            # sizes taken from tensors, not len(): an exported graph keeps its batch size free
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)
            if pad is not None:
                pad = torch.cat([torch.zeros_like(pad[:, :1]), pad], dim=1)
        h = self.dropout(h + self.positions[:, : h.shape[1]])
        h = self.norm(self.encoder(h, src_key_padding_mask=pad))
        if self.cls is not None:
            summary = h[:, 0]
        elif pad is None:
            summary = h.mean(dim=1)
        else:
            keep = (~pad).float()[..., None]
            summary = (h * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)
        return self.head(summary)  # type: ignore[no-any-return]


def build(params: TransformerParams, info: DataInfo) -> nn.Module:
    """A transformer encoder for the data's input kind."""
    shape = info.input_shape
    if info.input_kind == "tokens":
        return TransformerEncoderNet(params, info.output_dim, vocab_size=info.vocab_size, length=shape[0])
    if info.input_kind == "sequence" and len(shape) == 2:
        return TransformerEncoderNet(params, info.output_dim, features=shape[1], length=shape[0])
    if info.input_kind == "image" and len(shape) == 3:
        return RowReader(TransformerEncoderNet(params, info.output_dim, features=shape[0] * shape[2], length=shape[1]))
    raise BadInput(
        f"model.arch transformer needs sequences, text or images; this data gives {info.input_kind} of shape {shape}",
        hint="use model.arch: mlp for tables",
    )
