"""Parameter schemas of the architectures, registered by name.

These models are torch-free so that `dlkit models` and recipe validation stay
instant; each entry points at the function in its family module that builds
the network.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PositiveInt, model_validator

from dlkit.registry import Registry
from dlkit.schema_base import Strict

#: a layer width or channel count: positive, and small enough to fit in memory
Width = Annotated[int, Field(gt=0, le=65_536)]

ARCHITECTURES: Registry[type] = Registry("architecture")

InputKind = Literal["dense", "image", "sequence", "tokens", "pairs"]
Activation = Literal["relu", "leaky_relu", "gelu", "silu", "tanh", "sigmoid"]


class ArchParams(Strict):
    """Fields every architecture has: transfer learning from an earlier run."""

    arch: str
    #: the inputs it takes (the model tests build it for each)
    input_kinds: ClassVar[tuple[InputKind, ...]] = ("dense", "image")
    #: the tasks it is for (empty: any task that does not restrict its own architectures)
    tasks: ClassVar[tuple[str, ...]] = ()
    #: whether it encodes a table's free-text and image columns (data.text, data.images) beside the others
    reads_text_columns: ClassVar[bool] = False

    init_from: str | None = Field(
        None,
        description="A run id or checkpoint path whose matching weights (same name and shape) initialise this "
        "model; a tensor of the same name but another shape is an error.",
    )
    freeze: list[str] = Field(
        default_factory=list,
        description="Modules (by name, e.g. encoder) whose weights stay fixed; see trainer.unfreeze_at_epoch.",
    )


@ARCHITECTURES.register("mlp", target="dlkit.models.mlp:build")
class MLPParams(ArchParams):
    """Multi-layer perceptron: dense layers on flattened inputs."""

    reads_text_columns: ClassVar[bool] = True

    arch: Literal["mlp"] = Field("mlp", description="Architecture name.")
    hidden: list[Width] = Field(
        default_factory=lambda: [128, 64],
        description="Width of each hidden layer, input side first; [] is a linear model.",
        max_length=64,
    )
    activation: Activation = Field("relu", description="Activation after each hidden layer.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout probability after each hidden layer.")
    batch_norm: bool = Field(False, description="Batch normalisation before each activation.")
    combiner: Literal["concat", "attention"] = Field(
        "concat",
        description="How a table's encoded columns meet: concat (side by side into the dense layers) or attention "
        "(one token per column and self-attention across them, then the dense layers).",
    )
    combiner_dim: Width = Field(32, description="attention: the width of every column's token.")
    combiner_heads: int = Field(4, ge=1, le=64, description="attention: heads; they must divide combiner_dim.")
    combiner_layers: int = Field(2, ge=1, le=12, description="attention: transformer layers across the columns.")

    @model_validator(mode="after")
    def _heads_divide_the_width(self) -> MLPParams:
        if self.combiner == "attention" and self.combiner_dim % self.combiner_heads:
            raise ValueError(
                f"combiner_heads {self.combiner_heads} does not divide combiner_dim {self.combiner_dim}; "
                "pick heads among its divisors"
            )
        return self


@ARCHITECTURES.register("cnn", target="dlkit.models.cnn:build")
class CNNParams(ArchParams):
    """Convolutional network: conv blocks (conv, batch norm, activation, pooling), then a dense head."""

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("image",)

    arch: Literal["cnn"] = Field("cnn", description="Architecture name.")
    channels: list[Width] = Field(
        default_factory=lambda: [32, 64],
        min_length=1,
        max_length=16,
        description="Output channels of each conv block; one block per entry.",
    )
    convs_per_block: int = Field(1, ge=1, le=4, description="Convolutions in each block before pooling.")
    kernel_size: int = Field(
        3, ge=1, le=15, description="Square kernel size of every convolution (padding keeps the size)."
    )
    batch_norm: bool = Field(True, description="Batch normalisation after each convolution.")
    pool: Literal["max", "avg", "none"] = Field(
        "max", description="2x2 pooling at the end of each block (skipped once the feature map is 1 pixel wide)."
    )
    global_pool: bool = Field(False, description="Average the last feature map over space instead of flattening it.")
    activation: Activation = Field("relu", description="Activation after each convolution and dense layer.")
    dropout: float = Field(0.25, ge=0.0, lt=1.0, description="Dropout before each dense layer of the head.")
    hidden: list[Width] = Field(
        default_factory=lambda: [128],
        max_length=16,
        description="Width of each dense layer of the head after the conv blocks.",
    )


class RecurrentParams(ArchParams):
    """Recurrent network over sequences (rows of an image, windows of a series, token ids)."""

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("sequence", "tokens", "image")

    hidden_size: PositiveInt = Field(128, le=65_536, description="Units of each recurrent layer (per direction).")
    num_layers: PositiveInt = Field(1, le=32, description="Stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Read the sequence in both directions.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between layers and before the head.")
    embedding_dim: PositiveInt = Field(64, le=65_536, description="Token embedding size (text inputs only).")
    pooling: Literal["last", "mean", "max"] = Field(
        "last", description="Summary of the sequence: the final state, or the mean/max over (unpadded) steps."
    )
    hidden: list[Width] = Field(
        default_factory=list, max_length=16, description="Dense layers of the head after the recurrent layers."
    )


@ARCHITECTURES.register("rnn", target="dlkit.models.rnn:build")
class RNNParams(RecurrentParams):
    """Elman recurrent network (tanh)."""

    arch: Literal["rnn"] = Field("rnn", description="Architecture name.")


@ARCHITECTURES.register("lstm", target="dlkit.models.rnn:build")
class LSTMParams(RecurrentParams):
    """Long short-term memory network."""

    arch: Literal["lstm"] = Field("lstm", description="Architecture name.")


@ARCHITECTURES.register("gru", target="dlkit.models.rnn:build")
class GRUParams(RecurrentParams):
    """Gated recurrent unit network."""

    arch: Literal["gru"] = Field("gru", description="Architecture name.")


@ARCHITECTURES.register("resnet", target="dlkit.models.resnet:build")
class ResNetParams(ArchParams):
    """Residual network for images: stages of residual blocks with batch norm and skip connections."""

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("image",)

    arch: Literal["resnet"] = Field("resnet", description="Architecture name.")
    widths: list[Width] = Field(
        default_factory=lambda: [32, 64, 128],
        min_length=1,
        max_length=8,
        description="Channels of each stage; every stage after the first halves the resolution.",
    )
    blocks: list[Width] = Field(
        default_factory=lambda: [2, 2, 2],
        min_length=1,
        max_length=8,
        description="Residual blocks in each stage (same length as widths).",
    )
    activation: Activation = Field("relu", description="Activation inside the blocks.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the classifier.")

    @model_validator(mode="after")
    def _one_block_count_per_stage(self) -> ResNetParams:
        if len(self.blocks) != len(self.widths):
            raise ValueError(
                f"blocks has {len(self.blocks)} entries but widths has {len(self.widths)}; give one per stage"
            )
        return self


@ARCHITECTURES.register("transformer", target="dlkit.models.transformer:build")
class TransformerParams(ArchParams):
    """Transformer encoder over tokens, sequences or image rows, with padding masks and cls or mean pooling."""

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("sequence", "tokens", "image")

    arch: Literal["transformer"] = Field("transformer", description="Architecture name.")
    d_model: PositiveInt = Field(64, le=16_384, description="Width of the token representations.")
    heads: PositiveInt = Field(4, le=256, description="Attention heads (must divide d_model).")
    layers: PositiveInt = Field(2, le=64, description="Encoder layers.")
    ff_dim: PositiveInt = Field(128, le=65_536, description="Width of each layer's feed-forward block.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout in attention, feed-forward and embeddings.")
    pooling: Literal["cls", "mean"] = Field(
        "mean", description="cls: a learned summary token; mean: average of the unpadded positions."
    )
    positional: Literal["sinusoidal", "learned"] = Field("sinusoidal", description="Positional encoding.")
    max_length: PositiveInt = Field(512, le=1_000_000, description="Longest sequence the learned positions cover.")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TransformerParams:
        if self.d_model % self.heads:
            raise ValueError(f"heads {self.heads} must divide d_model {self.d_model}")
        return self


@ARCHITECTURES.register("autoencoder", target="dlkit.models.autoencoder:build")
class AutoencoderParams(ArchParams):
    """Autoencoder (dense or convolutional): with task reconstruction it rebuilds its input; with other
    tasks its encoder feeds a prediction head (e.g. fine-tuned from a pretrained autoencoder)."""

    arch: Literal["autoencoder"] = Field("autoencoder", description="Architecture name.")
    kind: Literal["dense", "conv"] = Field(
        "dense", description="Dense layers on flattened inputs, or convolutions on images."
    )
    hidden: list[Width] = Field(
        default_factory=lambda: [128, 64],
        max_length=16,
        description="dense: encoder widths (the decoder mirrors them).",
    )
    channels: list[Width] = Field(
        default_factory=lambda: [16, 32],
        min_length=1,
        max_length=8,
        description="conv: encoder channels, each block halving the image (the decoder mirrors them).",
    )
    latent: PositiveInt = Field(16, le=65_536, description="Size of the code between encoder and decoder.")
    activation: Activation = Field("relu", description="Activation between layers.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the prediction head (other tasks).")


@ARCHITECTURES.register("gan", target="dlkit.models.gan:build")
class GANParams(ArchParams):
    """Generative adversarial network: a generator and a discriminator, dense or DCGAN-style, optionally conditional."""

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("image",)
    tasks: ClassVar[tuple[str, ...]] = ("generation",)

    arch: Literal["gan"] = Field("gan", description="Architecture name.")
    kind: Literal["dense", "dcgan"] = Field(
        "dcgan", description="Dense networks, or (transposed) convolutions for images."
    )
    latent: PositiveInt = Field(32, le=4096, description="Size of the random input of the generator.")
    conditional: bool = Field(True, description="Generate a requested class (both networks see the label).")
    hidden: list[Width] = Field(
        default_factory=lambda: [256, 256], max_length=8, description="dense: widths of both networks' hidden layers."
    )
    channels: list[Width] = Field(
        default_factory=lambda: [64, 32],
        min_length=1,
        max_length=6,
        description="dcgan: generator channels from the smallest map up (the discriminator mirrors them).",
    )
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="Dropout in the discriminator.")
