"""How a table's text and image columns are encoded beside its numbers and categories (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from dlkit.schema_base import Strict


class TextEncoder(Strict):
    """How a table's free-text columns are read: tokenised on the training split, then encoded."""

    encoder: Literal["bag", "gru", "lstm", "transformer"] = Field(
        "bag",
        description="bag: the mean of the text's word embeddings (order-free, fastest); gru, lstm: a recurrent "
        "layer over the words, its outputs averaged; transformer: self-attention over the words and their "
        "positions, averaged. One vector per column either way.",
    )
    embedding_dim: PositiveInt = Field(32, le=1024, description="Size of each word's vector.")
    hidden_size: PositiveInt = Field(
        64, le=4096, description="gru, lstm: size of the recurrent state, and of the text's vector."
    )
    layers: PositiveInt = Field(1, le=12, description="gru, lstm, transformer: stacked layers.")
    heads: PositiveInt = Field(4, le=64, description="transformer: attention heads; they must divide embedding_dim.")
    max_length: PositiveInt = Field(64, le=10_000, description="Words kept per text: the first ones.")
    max_vocab: PositiveInt = Field(
        20_000, le=1_000_000, description="Vocabulary per column: its most frequent words in the training split."
    )
    min_freq: PositiveInt = Field(
        2, le=1_000_000, description="Words seen fewer times in the training split are out of vocabulary."
    )
    lowercase: bool = Field(True, description="Lower-case the text before tokenising.")
    ngrams: Literal[1, 2] = Field(
        1,
        description="bag: 2 adds each pair of neighbouring words (of the first max_length) as a token of its own, "
        "a bag of words and bigrams, so 'not good' counts apart from 'good'; the vocabulary holds both.",
    )

    @model_validator(mode="after")
    def _heads_divide_the_width(self) -> TextEncoder:
        if self.ngrams > 1 and self.encoder != "bag":
            raise ValueError(f"ngrams {self.ngrams} is for encoder bag; encoder {self.encoder} reads the word order")
        if self.encoder == "transformer" and self.embedding_dim % self.heads:
            raise ValueError(
                f"heads {self.heads} does not divide embedding_dim {self.embedding_dim}; pick heads among its divisors"
            )
        return self


class ImageEncoder(Strict):
    """How a table's image columns are read: decoded, resized, scaled with training statistics, then a
    small CNN or ResNet gives one vector per image."""

    encoder: Literal["cnn", "resnet"] = Field(
        "cnn",
        description="cnn: 3x3 convolutions with pooling between them; resnet: residual blocks (He et al.), "
        "downsampling by stride after the first.",
    )
    size: int = Field(32, ge=4, le=512, description="Side of the square every image is resized to.")
    color: Literal["gray", "rgb"] = Field("rgb", description="Read images as one gray channel or three colour ones.")
    filters: list[PositiveInt] = Field(
        default_factory=lambda: [16, 32],
        min_length=1,
        max_length=6,
        description="Channels of each convolution (cnn) or residual block (resnet); the last is the size of the "
        "image's vector.",
    )
