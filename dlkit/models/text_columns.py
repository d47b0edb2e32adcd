"""Encoders of a table's text columns: each reads its block of token ids (right-padded with 0) among the
table's inputs and gives one vector per row.

Padding never changes a row's vector: the bag and the averages leave it out, a recurrent layer's
outputs at the real words do not depend on the padding after them, and attention masks it. Nothing
is packed, so the exported graphs keep a free batch size.
"""

from __future__ import annotations

import torch
from torch import nn

from dlkit.data.info import TextBlock
from dlkit.models.transformer import sinusoidal


class TextColumn(nn.Module):
    """What every text encoder shares: its block of input columns and the word embedding."""

    def __init__(self, block: TextBlock) -> None:
        super().__init__()
        self.start, self.length = block.start, block.length
        self.embedding = nn.Embedding(block.vocab, block.embedding_dim, padding_idx=0)
        self.out_dim = block.embedding_dim

    def ids(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.start + self.length].long()

    @staticmethod
    def mean(steps: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """The average of each row's steps at its words (zeros for an empty text)."""
        weight = present.unsqueeze(-1).to(steps.dtype)
        return (steps * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)


class TextBag(TextColumn):
    """The mean of the text's word embeddings: order-free and the fastest."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.ids(x)
        return self.mean(self.embedding(ids), ids != 0)


class TextRecurrent(TextColumn):
    """A GRU or LSTM over the words; its outputs at the words are averaged."""

    def __init__(self, block: TextBlock) -> None:
        super().__init__(block)
        cell = nn.GRU if block.encoder == "gru" else nn.LSTM
        self.rnn = cell(block.embedding_dim, block.hidden_size, num_layers=block.layers, batch_first=True)
        self.out_dim = block.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.ids(x)
        steps, _ = self.rnn(self.embedding(ids))
        return self.mean(steps, ids != 0)


class TextAttention(TextColumn):
    """Self-attention over the words and their positions; the encoded words are averaged."""

    def __init__(self, block: TextBlock) -> None:
        super().__init__(block)
        d = block.embedding_dim
        # fixed sine/cosine positions, on the scale of the word embeddings: learned ones start near zero and
        # take many epochs to tell "red ... blue" from "blue ... red"
        self.register_buffer("positions", sinusoidal(block.length, d)[None], persistent=False)
        layer = nn.TransformerEncoderLayer(d, block.heads, 2 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, block.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.ids(x)
        present = ids != 0
        # an empty text masks every word and attention over nothing is NaN: let its first (padding)
        # position attend; the average below leaves it out all the same
        pad = ~present
        pad[:, 0] = pad[:, 0] & present.any(dim=1)
        h = self.norm(self.encoder(self.embedding(ids) + self.positions, src_key_padding_mask=pad))
        return self.mean(h, present)


ENCODERS: dict[str, type[TextColumn]] = {
    "bag": TextBag,
    "gru": TextRecurrent,
    "lstm": TextRecurrent,
    "transformer": TextAttention,
}


def encoder(block: TextBlock) -> TextColumn:
    """The encoder a text column's block names."""
    return ENCODERS[block.encoder](block)
