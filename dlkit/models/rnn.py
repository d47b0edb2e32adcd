"""Recurrent networks (RNN, LSTM, GRU) for token ids, sequences and image rows.

Token sequences are packed by length, so the padding never changes the result. An export graph
cannot express packing (ONNX has no packed sequences): there the same result comes from the padded
sequence itself, each row reversed within its own length for the backward direction
(`unpacked_steps`), with the same weights.
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

    #: set on the copy that `dlkit export` traces: the padded path of `unpacked_steps`, not packing
    export_mode: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None and self.export_mode:
            lengths = (x != 0).sum(dim=1).clamp(min=1)
            steps, last = unpacked_steps(self.rnn, self.embedding(x), lengths)
            present = torch.arange(steps.shape[1], device=x.device)[None, :] < lengths[:, None]
            return self.head(self.dropout(self._pooled(steps, present, last)))
        mask: torch.Tensor | None = None
        if self.embedding is not None:
            lengths = (x != 0).sum(dim=1).clamp(min=1)
            seq = pack_padded_sequence(self.embedding(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(seq)
            steps, _ = pad_packed_sequence(out, batch_first=True)
            mask = torch.arange(steps.shape[1], device=x.device)[None, :] < lengths[:, None]
        else:
            steps, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c)
        last = torch.cat(list(h[-self.directions :]), dim=1)  # last layer, every direction
        return self.head(self.dropout(self._pooled(steps, mask, last)))

    def _pooled(self, steps: torch.Tensor, mask: torch.Tensor | None, last: torch.Tensor) -> torch.Tensor:
        """One vector per row: the final states (`last`), or the mean or maximum over the real steps."""
        if self.pooling == "last":
            summary = last
        elif self.pooling == "mean":
            if mask is None:
                summary = steps.mean(dim=1)
            else:
                summary = (steps * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
        else:
            if mask is not None:
                steps = steps.masked_fill(~mask[..., None], float("-inf"))
            summary = steps.max(dim=1).values
        return summary


def _within_length(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """For each row, the step index that reverses its first `length` steps and keeps the padding after."""
    t = torch.arange(steps, device=lengths.device)[None, :]
    return torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)


def _layer(rnn: Any, k: int, suffix: str) -> nn.Module:
    """Layer `k` of `rnn` in one direction (`suffix` '' or '_reverse') as a one-layer module, sharing its weights."""
    one = type(rnn)(rnn.input_size if k == 0 else rnn.hidden_size * 2, rnn.hidden_size, batch_first=True)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        if hasattr(rnn, f"{name}_l{k}{suffix}"):
            setattr(one, f"{name}_l0", getattr(rnn, f"{name}_l{k}{suffix}"))
    return one


def unpacked_steps(rnn: Any, seq: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What `rnn` over `seq` packed by `lengths` gives (each row's steps, zero past its length, and the last
    layer's final state of each direction), computed on the padded sequence: the forward direction never
    reads the padding after a row's steps, and the backward one reads each row reversed within its length."""
    b, steps = seq.shape[0], seq.shape[1]
    last_step = (lengths - 1).clamp(min=0)[:, None, None]
    if not rnn.bidirectional:
        out, _ = rnn(seq)
        final = out.gather(1, last_step.expand(b, 1, out.shape[2]))[:, 0]
    else:
        order = _within_length(lengths, steps)[..., None]
        out = seq
        for k in range(rnn.num_layers):
            forward, _ = _layer(rnn, k, "")(out)
            backward_reversed, _ = _layer(rnn, k, "_reverse")(out.gather(1, order.expand(b, steps, out.shape[2])))
            width = backward_reversed.shape[2]
            backward = backward_reversed.gather(1, order.expand(b, steps, width))
            out = torch.cat([forward, backward], dim=2)
        final = torch.cat(
            [
                forward.gather(1, last_step.expand(b, 1, width))[:, 0],
                backward_reversed.gather(1, last_step.expand(b, 1, width))[:, 0],
            ],
            dim=1,
        )
    mask = torch.arange(steps, device=seq.device)[None, :, None] < lengths[:, None, None]
    return out * mask, final


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
