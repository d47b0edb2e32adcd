"""A table's free-text columns (`data.text`): a vocabulary per column from the training split, token ids.

Each text column becomes `max_length` input columns of token ids (0 pads, 1 is out of vocabulary),
twice as many with word pairs (`ngrams: 2`), beside the table's numbers and categories; the model's text encoder (`data.text_encoder`) reads
them, so one network sees a review's words together with the product, the date and the counts.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dlkit.data.info import TextBlock
from dlkit.data.rows import input_column
from dlkit.data.text import build_vocab, encode, tokenize
from dlkit.recipe.column_encoders import TextEncoder


def _texts(frame: Any, column: Any) -> list[str]:
    return [str(v) for v in frame[column].fillna("").astype(str)]  # a missing text reads as an empty one


def width(fitted: dict[str, Any]) -> int:
    """The input columns of one text column: its words, then (ngrams 2) the pairs of neighbouring words."""
    return int(fitted["max_length"]) * int(fitted.get("ngrams", 1))


def _tokens(text: str, tokenizer: str, lowercase: bool, max_length: int, ngrams: int) -> list[str]:
    words = tokenize(text, tokenizer, lowercase)
    if ngrams == 1:
        return words
    words = words[:max_length]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def fit(
    frame: Any, columns: list[Any], train: np.ndarray, params: TextEncoder
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """Per text column what reading it needs again (its vocabulary from the training split only, and the
    settings), and the token ids of every row: each text is tokenised once."""
    fitted, blocks = {}, [np.zeros((len(frame), 0), dtype=np.int64)]
    for name in columns:
        n = params.ngrams
        tokens = [_tokens(t, "word", params.lowercase, params.max_length, n) for t in _texts(frame, name)]
        vocab = build_vocab((tokens[i] for i in train), params.min_freq, params.max_vocab)
        fitted[str(name)] = {
            "vocab": vocab,
            "max_length": params.max_length,
            "lowercase": params.lowercase,
            "tokenizer": "word",
            "embedding_dim": params.embedding_dim,
            "encoder": params.encoder,
            "hidden_size": params.hidden_size,
            "layers": params.layers,
            "heads": params.heads,
            **({"ngrams": n} if n > 1 else {}),  # absent with words alone: earlier runs' preprocessing reads the same
        }
        blocks.append(encode(tokens, vocab, width(fitted[str(name)])))
    return fitted, np.concatenate(blocks, axis=1)


def token_ids(frame: Any, fitted: dict[str, dict[str, Any]], field: str) -> np.ndarray:
    """The token ids of every text column, side by side: (rows, sum of max_length)."""
    blocks = [np.zeros((len(frame), 0), dtype=np.int64)]
    for name, f in fitted.items():
        column = input_column(frame, name, field, "text")
        length, n = int(f["max_length"]), int(f.get("ngrams", 1))
        tokens = (_tokens(t, f["tokenizer"], f["lowercase"], length, n) for t in _texts(frame, column))
        blocks.append(encode(tokens, f["vocab"], width(f)))
    return np.concatenate(blocks, axis=1)


def positions(fitted: dict[str, dict[str, Any]], start: int) -> list[TextBlock]:
    """Each text column's block of input columns and its encoder."""
    out = []
    for f in fitted.values():
        settings = {k: f[k] for k in ("encoder", "hidden_size", "layers", "heads") if k in f}
        out.append(TextBlock(start, width(f), len(f["vocab"]), int(f["embedding_dim"]), **settings))
        start += width(f)
    return out
