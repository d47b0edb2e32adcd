"""Multi-layer perceptron on flattened inputs, with optional embeddings for categorical columns."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlkit.data.info import DataInfo, ImageBlock, TextBlock
from dlkit.errors import BadInput
from dlkit.models import text_columns
from dlkit.models.combiner import AttentionCombiner, column_groups
from dlkit.models.image_columns import ImageColumn
from dlkit.models.layers import dense_stack
from dlkit.recipe.architectures import MLPParams


def embedding_size(cardinality: int) -> int:
    """A common rule of thumb: about half the categories, at most 50."""
    return min(50, (cardinality + 1) // 2)


class MLP(nn.Module):
    """Flatten, embed categorical columns and encode text and image columns (if any), concatenate, then dense
    layers."""

    def __init__(
        self,
        params: MLPParams,
        in_features: int,
        out_features: int,
        categorical: list[tuple[int, int]] | None = None,
        text_blocks: list[TextBlock] | None = None,
        image_blocks: list[ImageBlock] | None = None,
        feature_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        categorical = categorical or []
        self.cat_columns = [pos for pos, _ in categorical]
        texts = [text_columns.encoder(block) for block in text_blocks or []]
        self.texts = nn.ModuleList(texts)
        images = [ImageColumn(block) for block in image_blocks or []]
        self.images = nn.ModuleList(images)
        taken = set(self.cat_columns) | {i for b in text_blocks or [] for i in range(b.start, b.start + b.length)}
        taken |= {i for b in image_blocks or [] for i in range(b.start, b.start + b.width)}
        self.num_columns = [i for i in range(in_features) if i not in taken]
        self.embeddings = nn.ModuleList(nn.Embedding(card, embedding_size(card)) for _, card in categorical)
        widths = [embedding_size(card) for _, card in categorical]
        widths += [text.out_dim for text in texts] + [image.out_dim for image in images]
        width = len(self.num_columns) + sum(widths)
        self.combiner: AttentionCombiner | None = None
        if params.combiner == "attention":
            groups = column_groups(feature_names or [], self.num_columns)
            self.combiner = AttentionCombiner(
                groups, widths, params.combiner_dim, params.combiner_heads, params.combiner_layers, params.dropout
            )
            width = self.combiner.out_dim
        self.net = dense_stack(
            width,
            list(params.hidden),
            out_features,
            act=params.activation,
            dropout=params.dropout,
            batch_norm=params.batch_norm,
        )

    def _encoded(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The vector of each embedded, text and image column, in that order (what both combiners take)."""
        encoded = [emb(x[:, pos].long()) for pos, emb in zip(self.cat_columns, self.embeddings, strict=True)]
        return encoded + [text(x) for text in self.texts] + [image(x) for image in self.images]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if self.combiner is not None:
            return self.net(self.combiner(x, self._encoded(x)))  # type: ignore[no-any-return]
        if self.cat_columns or len(self.texts) or len(self.images):
            x = torch.cat([x[:, self.num_columns], *self._encoded(x)], dim=1)
        return self.net(x)


def build(params: MLPParams, info: DataInfo) -> nn.Module:
    """An MLP for inputs of any shape (they are flattened)."""
    if info.input_kind == "tokens":
        raise BadInput("model.arch mlp cannot read token ids", hint="use model.arch: lstm or gru for text")
    return MLP(
        params,
        math.prod(info.input_shape),
        info.output_dim,
        info.categorical,
        info.text_blocks,
        info.image_blocks,
        info.feature_names,
    )
