"""The attention combiner of a table's MLP: one token per input column, self-attention across them.

Each column becomes a vector of the same width: a number (or the bins or one-hot inputs of one
column) through a linear map of its own, a category through its embedding, a text or an image
through its encoder, each then mapped to the shared width. A transformer encoder lets every column
weigh every other (a price read differently in each district), and a learned summary token that
attends to all of them feeds the dense layers, as in the FT-Transformer of Gorishniy et al. (2021).
"""

from __future__ import annotations

import re

import torch
from torch import nn


def column_groups(names: list[str], positions: list[int]) -> list[list[int]]:
    """The input positions of each original column among `positions`: the bins (`price#3`) and one-hot
    inputs (`city=Oslo`) of one column form one group, every other input its own."""
    groups: dict[str, list[int]] = {}
    for position in positions:
        name = names[position] if position < len(names) else f"#{position}"
        groups.setdefault(re.split(r"[#=]", name, maxsplit=1)[0] or name, []).append(position)
    return list(groups.values())


class AttentionCombiner(nn.Module):
    """Tokens of the columns -> transformer encoder -> the summary token's vector."""

    def __init__(self, groups: list[list[int]], widths: list[int], dim: int, heads: int, layers: int,
                 dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.count = len(groups)
        for i, g in enumerate(groups):  # buffers: they follow the module to its device
            self.register_buffer(f"group{i}", torch.tensor(g, dtype=torch.long), persistent=False)
        self.numbers = nn.ModuleList(nn.Linear(len(g), dim) for g in groups)
        self.encoded = nn.ModuleList(nn.Linear(w, dim) for w in widths)
        self.summary = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def forward(self, x: torch.Tensor, encoded: list[torch.Tensor]) -> torch.Tensor:
        tokens = [linear(x[:, getattr(self, f"group{i}")]) for i, linear in enumerate(self.numbers)]
        tokens += [linear(e) for linear, e in zip(self.encoded, encoded, strict=True)]
        h = torch.stack(tokens, dim=1)
        h = torch.cat([self.summary.expand(h.shape[0], -1, -1), h], dim=1)
        return self.norm(self.encoder(h))[:, 0]  # type: ignore[no-any-return]
