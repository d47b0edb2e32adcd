"""Multi-layer perceptron on flattened inputs, with optional embeddings for categorical columns."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import dense_stack
from dlkit.recipe.architectures import MLPParams


def embedding_size(cardinality: int) -> int:
    """A common rule of thumb: about half the categories, at most 50."""
    return min(50, (cardinality + 1) // 2)


class TextBag(nn.Module):
    """A text column's encoder: the mean of its words' embeddings (padding left out)."""

    def __init__(self, start: int, length: int, vocab: int, dim: int) -> None:
        super().__init__()
        self.start, self.length = start, length
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x[:, self.start : self.start + self.length].long()
        present = (ids != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        return (self.embedding(ids) * present).sum(dim=1) / present.sum(dim=1).clamp(min=1.0)


class MLP(nn.Module):
    """Flatten, embed categorical columns and encode text columns (if any), concatenate, then dense layers."""

    def __init__(
        self,
        params: MLPParams,
        in_features: int,
        out_features: int,
        categorical: list[tuple[int, int]] | None = None,
        text_blocks: list[tuple[int, int, int, int]] | None = None,
    ) -> None:
        super().__init__()
        categorical = categorical or []
        self.cat_columns = [pos for pos, _ in categorical]
        self.texts = nn.ModuleList(TextBag(*block) for block in text_blocks or [])
        taken = set(self.cat_columns) | {i for s, n, _, _ in text_blocks or [] for i in range(s, s + n)}
        self.num_columns = [i for i in range(in_features) if i not in taken]
        self.embeddings = nn.ModuleList(nn.Embedding(card, embedding_size(card)) for _, card in categorical)
        width = len(self.num_columns) + sum(embedding_size(card) for _, card in categorical)
        width += sum(dim for _, _, _, dim in text_blocks or [])
        self.net = dense_stack(
            width,
            list(params.hidden),
            out_features,
            act=params.activation,
            dropout=params.dropout,
            batch_norm=params.batch_norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if self.cat_columns or len(self.texts):
            parts = [x[:, self.num_columns]]
            parts += [emb(x[:, pos].long()) for pos, emb in zip(self.cat_columns, self.embeddings, strict=True)]
            parts += [text(x) for text in self.texts]
            x = torch.cat(parts, dim=1)
        return self.net(x)


def build(params: MLPParams, info: DataInfo) -> nn.Module:
    """An MLP for inputs of any shape (they are flattened)."""
    if info.input_kind == "tokens":
        raise BadInput("model.arch mlp cannot read token ids", hint="use model.arch: lstm or gru for text")
    return MLP(params, math.prod(info.input_shape), info.output_dim, info.categorical, info.text_blocks)
