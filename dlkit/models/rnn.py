"""Recurrent networks (RNN, LSTM, GRU) for token ids, sequences and image rows.

Token sequences are packed by length, so the padding never changes the result.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import RowReader, dense_stack
from dlkit.recipe.architectures import RecurrentParams

_CELLS: dict[str, Any] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(nn.Module):
    """Embedding (for token ids), stacked recurrent layers, pooling over time, dense head."""

    def __init__(self, params: RecurrentParams, arch: str, features: int, output_dim: int, vocab_size: int = 0) -> None:
        super().__init__()
        self.tokens = vocab_size > 0
        self.embedding = nn.Embedding(vocab_size, params.embedding_dim, padding_idx=0) if self.tokens else None
        width = params.embedding_dim if self.tokens else features
        self.rnn = _CELLS[arch](
            width,
            params.hidden_size,
            num_layers=params.num_layers,
            batch_first=True,
            bidirectional=params.bidirectional,
            dropout=params.dropout if params.num_layers > 1 else 0.0,
        )
        self.pooling = params.pooling
        self.directions = 2 if params.bidirectional else 1
        self.dropout = nn.Dropout(params.dropout)
        self.head = dense_stack(
            params.hidden_size * self.directions, list(params.hidden), output_dim, act="relu", dropout=params.dropout
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            lengths = (x != 0).sum(dim=1).clamp(min=1)
            seq = pack_padded_sequence(self.embedding(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(seq)
            steps, _ = pad_packed_sequence(out, batch_first=True)
            mask = torch.arange(steps.shape[1], device=x.device)[None, :] < lengths[:, None]
        else:
            steps, state = self.rnn(x)
            mask = None
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c)
            summary = torch.cat(list(h[-self.directions :]), dim=1)  # last layer, every direction
        elif self.pooling == "mean":
            if mask is None:
                summary = steps.mean(dim=1)
            else:
                summary = (steps * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
        else:
            if mask is not None:
                steps = steps.masked_fill(~mask[..., None], float("-inf"))
            summary = steps.max(dim=1).values
        return self.head(self.dropout(summary))


def build(params: RecurrentParams, info: DataInfo) -> nn.Module:
    """A recurrent network reading token ids, (time, features) sequences or images row by row."""
    arch: str = params.arch  # type: ignore[attr-defined]
    shape = info.input_shape
    if info.input_kind == "tokens":
        return Recurrent(params, arch, 0, info.output_dim, vocab_size=info.vocab_size)
    if info.input_kind == "sequence" and len(shape) == 2:
        return Recurrent(params, arch, shape[1], info.output_dim)
    if info.input_kind == "image" and len(shape) == 3:
        return RowReader(Recurrent(params, arch, shape[0] * shape[2], info.output_dim))
    raise BadInput(
        f"model.arch {arch} needs sequences, text or images; this data gives {info.input_kind} of shape {shape}",
        hint="use model.arch: mlp for tables",
    )
