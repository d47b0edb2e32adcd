"""What the model and task need to know about the data, and what tracking records (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlkit.recipe.architectures import InputKind


@dataclass
class TextBlock:
    """Where a table's text column sits among the inputs (its token ids) and how it is encoded."""

    start: int
    length: int
    vocab: int
    embedding_dim: int
    encoder: str = "bag"
    hidden_size: int = 64
    layers: int = 1
    heads: int = 4

    @classmethod
    def read(cls, saved: dict[str, Any] | list[Any] | tuple[Any, ...]) -> TextBlock:
        """A block saved with `dataclasses.asdict`, or as the (start, length, vocab, embedding_dim)
        of runs before the encoder could be chosen."""
        return cls(**saved) if isinstance(saved, dict) else cls(*saved)


@dataclass
class ImageBlock:
    """Where a table's image column sits among the inputs (channels x size x size pixels) and its encoder."""

    start: int
    channels: int
    size: int
    filters: list[int] = field(default_factory=lambda: [16, 32])
    encoder: str = "cnn"

    @property
    def width(self) -> int:
        return self.channels * self.size * self.size


@dataclass
class TargetInfo:
    """One target of a run with several (task multi): its column, kind, classes and training statistics."""

    column: str
    kind: str
    class_names: list[str] | None = None
    #: regression: mean and spread of the fitted (possibly log1p) target on the training split
    mean: float = 0.0
    std: float = 1.0
    log1p: bool = False
    train_class_counts: list[int] | None = None

    @property
    def width(self) -> int:
        """The network outputs it takes: one per class, or one value."""
        return len(self.class_names) if self.class_names is not None else 1


@dataclass
class DataInfo:
    """Shapes, classes and fitted preprocessing of a dataset, as seen after splitting."""

    name: str
    source: str
    task: str
    input_shape: tuple[int, ...]
    output_dim: int
    input_kind: InputKind = "dense"
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    train_class_counts: list[int] | None = None
    #: regression/forecasting: training statistics of the target (one value, or one per output)
    target_mean: float | list[float] = 0.0
    target_std: float | list[float] = 1.0
    split_sizes: dict[str, int] = field(default_factory=dict)
    #: tokens: vocabulary size (index 0 pads, 1 is out-of-vocabulary)
    vocab_size: int = 0
    #: dense inputs with embedded categorical columns: (column position, number of codes)
    categorical: list[tuple[int, int]] = field(default_factory=list)
    #: tables with free-text columns: each column's block of token ids and its encoder
    text_blocks: list[TextBlock] = field(default_factory=list)
    #: tables with image columns: each column's block of pixels and its encoder
    image_blocks: list[ImageBlock] = field(default_factory=list)
    #: task multi: each target column, in the order of the network's outputs and of the target matrix
    targets: list[TargetInfo] = field(default_factory=list)
    #: forecasting: position of each target series among the window's features
    target_features: list[int] = field(default_factory=list)
    horizon: int = 0
    #: everything needed to turn raw rows into model inputs again (saved with the run)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    #: problems worth telling the user that do not stop the run (constant columns, ...)
    warnings: list[str] = field(default_factory=list)
    #: what the data module did on its own that the user should know (rows dropped, columns typed)
    notes: list[str] = field(default_factory=list)
    #: what `mlflow.log_input` records besides the arrays (source path, schema)
    source_path: str | None = None
