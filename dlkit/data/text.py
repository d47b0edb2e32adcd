"""Short texts: a vocabulary built on the training split only, token ids padded or truncated."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.files import column, read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, first_rows, input_column, labels, row_ids
from dlkit.data.splits import assign
from dlkit.data.targets import labelled_rows, target_values
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import TextData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section

PAD, OOV = "<pad>", "<unk>"
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, tokenizer: str, lowercase: bool) -> list[str]:
    """Words and punctuation marks, or characters."""
    if lowercase:
        text = text.lower()
    return _WORD.findall(text) if tokenizer == "word" else list(text)


def build_vocab(token_lists: Iterable[list[str]], min_freq: int, max_vocab: int) -> list[str]:
    """Index 0 pads, 1 stands for tokens out of vocabulary; then the most frequent tokens (ties by first sight)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    kept = [t for t, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= min_freq]
    return [PAD, OOV, *kept[: max(0, max_vocab - 2)]]


def encode(token_lists: Iterable[list[str]], vocab: list[str], max_length: int) -> np.ndarray:
    """Token ids, truncated to max_length and right-padded with 0."""
    lookup = {t: i for i, t in enumerate(vocab)}
    rows = list(token_lists)
    ids = np.zeros((len(rows), max_length), dtype=np.int64)
    for r, tokens in enumerate(rows):
        codes = [lookup.get(t, 1) for t in tokens[:max_length]]
        ids[r, : len(codes)] = codes
    return ids


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a file of texts with a label or a number each."""
    p = section(recipe.data, TextData)
    frame, path = read_table(p, header=p.header)
    text_col = column(frame, p.text_column, "data.text_column")
    target = column(frame, p.target, "data.target")
    if text_col == target:
        raise DataError(f"data.text_column: column '{target}' is the target; the text must be another column")
    notes: list[str] = []
    frame = labelled_rows(frame, target, p, recipe.task, notes)
    split_col = column(frame, p.split_column, "data.split_column") if p.split_column is not None else None
    texts = frame[text_col].fillna("").astype(str).tolist()
    classification = recipe.task.labelled
    y, class_names = target_values(frame, target, recipe.task)
    labels = frame[split_col].to_numpy() if split_col else None
    splits = assign(y, p, stratify=classification, labels=labels, fold=fold, names=class_names)
    tokens = [tokenize(t, p.tokenizer, p.lowercase) for t in texts]
    vocab = build_vocab((tokens[i] for i in splits["train"]), p.min_freq, p.max_vocab)
    ids = encode(tokens, vocab, p.max_length)
    if not (ids > 1).any():
        raise DataError(f"data.text_column: column '{text_col}' holds no usable text")
    info = DataInfo(
        name=path.stem,
        source=str(path),
        task=recipe.task.kind,
        input_shape=(p.max_length,),
        output_dim=0,
        input_kind="tokens",
        class_names=class_names,
        vocab_size=len(vocab),
        source_path=str(path),
    )
    info.notes.extend(notes)
    lengths = np.asarray([len(t) for t in tokens])
    truncated = float((lengths > p.max_length).mean())
    if truncated > 0.2:
        info.warnings.append(
            f"{truncated:.0%} of the texts are longer than data.max_length={p.max_length} and are truncated"
        )
    info.preprocessing = {
        "kind": "text",
        "text_column": text_col,
        "tokenizer": p.tokenizer,
        "lowercase": p.lowercase,
        "max_length": p.max_length,
        "vocab": vocab,
        "class_names": class_names,
    }
    return build_module(recipe, ids, y, splits, info, scale=False)


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    pre = info.preprocessing
    col = input_column(frame, pre["text_column"], field, "text")
    texts = frame[col].fillna("").astype(str).tolist()
    ids = encode((tokenize(t, pre["tokenizer"], pre["lowercase"]) for t in texts), pre["vocab"], pre["max_length"])
    target = getattr(recipe.data, "target", None)
    target = target if target in frame.columns else None
    return RawInputs(ids, labels(frame, target, info, field), row_ids(len(frame)))


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first texts of the training file: the MLflow model's input example."""
    return first_rows(recipe, [info.preprocessing["text_column"]], rows)
