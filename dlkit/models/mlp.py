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


class MLP(nn.Module):
    """Flatten, embed categorical columns (if any), then dense layers."""

    def __init__(
        self, params: MLPParams, in_features: int, out_features: int, categorical: list[tuple[int, int]] | None = None
    ) -> None:
        super().__init__()
        categorical = categorical or []
        self.cat_columns = [pos for pos, _ in categorical]
        self.num_columns = [i for i in range(in_features) if i not in set(self.cat_columns)]
        self.embeddings = nn.ModuleList(nn.Embedding(card, embedding_size(card)) for _, card in categorical)
        width = len(self.num_columns) + sum(embedding_size(card) for _, card in categorical)
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
        if self.cat_columns:
            parts = [x[:, self.num_columns]]
            parts += [emb(x[:, pos].long()) for pos, emb in zip(self.cat_columns, self.embeddings, strict=True)]
            x = torch.cat(parts, dim=1)
        return self.net(x)


def build(params: MLPParams, info: DataInfo) -> nn.Module:
    """An MLP for inputs of any shape (they are flattened)."""
    if info.input_kind == "tokens":
        raise BadInput("model.arch mlp cannot read token ids", hint="use model.arch: lstm or gru for text")
    return MLP(params, math.prod(info.input_shape), info.output_dim, info.categorical)
