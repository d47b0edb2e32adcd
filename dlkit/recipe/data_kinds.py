"""Parameter schemas of the data kinds, registered by name (torch-free)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt, model_validator

from dlkit.recipe.column_encoders import ImageEncoder, TextEncoder
from dlkit.registry import Registry
from dlkit.schema_base import Strict

DATA_KINDS: Registry[type] = Registry("data kind")


Column = str | int
COLUMN_HELP = "a column name, or an integer position (negative counts from the end)"


class SplitParams(Strict):
    """Fields shared by every data kind: holdout split and batching."""

    kind: str
    #: the tasks this kind suits (empty: any task that does not restrict its own data kinds)
    tasks: ClassVar[tuple[str, ...]] = ()

    val_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="Share of the rows held out for validation.")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="Share of the rows held out for the final test.")
    seed: int = Field(
        0, ge=0, le=2**32 - 1, description="Seed of the train/val/test split (independent of the training seed)."
    )
    train_fraction: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Share of the training split actually used (a seeded, stratified subset; for a time series "
        "its latest windows): for label-budget experiments; validation and test splits stay whole.",
    )
    batch_size: PositiveInt = Field(64, le=1_000_000, description="Samples per training batch.")
    eval_batch_size: PositiveInt | None = Field(
        None, le=10_000_000, description="Samples per validation/test batch; defaults to 4x batch_size."
    )
    scale: Literal["standard", "minmax", "quantile", "none"] = Field(
        "standard",
        description="Feature scaling, fitted on the training split only; quantile (tables): each column mapped "
        "through its training quantiles to a normal distribution, robust to skew and outliers.",
    )
    on_device: bool | None = Field(
        None,
        description="Keep the in-memory splits on the GPU for the whole run (no copy per batch); "
        "default: when training on a GPU and they take under a quarter of its free memory.",
    )

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> SplitParams:
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} leaves too little "
                "for training; keep the sum below 0.9"
            )
        return self


class TableFile(SplitParams):
    """A delimited text file or a Parquet file."""

    path: str = Field(
        min_length=1,
        description="The CSV, TSV or Parquet file (.parquet, .pq); relative paths resolve against the recipe's folder.",
    )
    sep: str | None = Field(None, description="Column separator; default from the extension (.tsv: tab, else comma).")
    header: bool = Field(True, description="Whether the first line names the columns (without: columns 0..N-1).")
    encoding: str = Field("utf-8", description="Text encoding of the file (CSV/TSV; Parquet files carry their own).")
    quoting: Literal["auto", "standard", "none"] = Field(
        "auto",
        description="standard: quoted fields may hold separators, line breaks and doubled quotes; none: quotes "
        "are ordinary characters; auto: standard, except for tab files whose quotes break its rules.",
    )


class FileParams(TableFile):
    """A table of samples with a target column."""

    drop_unlabeled: bool = Field(
        True, description="Leave out rows whose target is empty (the run says how many); off, they are an error."
    )
    rare_classes: Literal["error", "drop"] = Field(
        "error",
        description="Classes with fewer rows than a stratified split needs (3): an error, or left out with a note.",
    )
    split_column: Column | None = Field(
        None, description="A column with values train/val/test that fixes each row's split (instead of fractions)."
    )


@DATA_KINDS.register("builtin", target="dlkit.data.builtin:build")
class BuiltinData(SplitParams):
    """A dataset bundled with scikit-learn (no download)."""

    kind: Literal["builtin"] = Field("builtin", description="Data kind.")
    name: Literal["digits", "digits_rows", "breast_cancer", "wine", "iris", "diabetes"] = Field(
        description="digits (1x8x8 images, 10 classes), digits_rows (digits as 8 rows of 8 values, for "
        "sequence models), breast_cancer, wine, iris (tables, classification) or diabetes (table, regression)."
    )


@DATA_KINDS.register("csv", target="dlkit.data.tabular:build")
class CsvData(FileParams):
    """A table in a CSV/TSV file: one row per sample, one target column (or several: task multi)."""

    kind: Literal["csv"] = Field("csv", description="Data kind.")
    target: Column | None = Field(
        None, description=f"The target column: {COLUMN_HELP}. Required, except with task multi (task.targets)."
    )
    features: list[Column] | None = Field(None, description="Input columns; default: every column but target and drop.")
    categorical: list[Column] | Literal["auto"] = Field(
        "auto",
        description="Columns holding categories (text or codes); auto: every input column that is neither "
        "numbers nor dates.",
    )
    dates: list[Column] | Literal["auto"] = Field(
        "auto",
        description="Date/time columns, each expanded into calendar features (year, month, day, day of week, day "
        "of year; hour and minute where times vary); auto: the text columns whose values read as dates.",
    )
    date_parts: list[Literal["year", "month", "day", "day_of_week", "day_of_year", "hour", "minute"]] | None = Field(
        None,
        min_length=1,
        description="The calendar features of every date column; default: year, month, day, day_of_week, "
        "day_of_year, and hour and minute where times vary.",
    )
    numeric_encoding: Literal["scaled", "piecewise"] = Field(
        "scaled",
        description="scaled: each number one input, scaled by data.scale; piecewise: one input per quantile bin "
        "of the training split (0 below it, 1 above, linear inside), so an MLP can respond to thresholds "
        "as a tree does.",
    )
    numeric_bins: int = Field(16, ge=2, le=256, description="piecewise: quantile bins per numeric column.")
    max_categories: PositiveInt = Field(
        100,
        le=100_000,
        description="Categories kept per column: the most frequent in the training split; rarer ones and "
        "unseen ones share the encoding of an unknown category.",
    )
    categorical_encoding: Literal["onehot", "embedding"] = Field(
        "onehot", description="onehot: one 0/1 input per category; embedding: a learned vector per category (mlp)."
    )
    text: list[Column] = Field(
        default_factory=list,
        description="Free-text columns (reviews, titles, messages), each read by data.text_encoder beside the "
        "other columns (model.arch mlp); a missing text is an empty one.",
    )
    text_encoder: TextEncoder = Field(default_factory=TextEncoder, description="How the text columns are read.")
    images: list[Column] = Field(
        default_factory=list,
        description="Columns of image file paths (relative to the table's folder, or absolute), each decoded and "
        "read by data.image_encoder beside the other columns (model.arch mlp); a missing path is a blank image.",
    )
    image_encoder: ImageEncoder = Field(default_factory=ImageEncoder, description="How the image columns are read.")
    drop: list[Column] = Field(default_factory=list, description="Columns to ignore.")
    impute: Literal["mean", "median", "most_frequent"] | None = Field(
        None,
        description="Fill missing values with statistics of the training split (categorical columns: most "
        "frequent); unset, a missing value is an error.",
    )


@DATA_KINDS.register("text", target="dlkit.data.text:build")
class TextData(FileParams):
    """Short texts in a CSV/TSV/Parquet file with a label (classification) or a number (regression)."""

    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    kind: Literal["text"] = Field("text", description="Data kind.")
    text_column: Column = Field(description=f"The column holding the text: {COLUMN_HELP}.")
    target: Column = Field(description=f"The label column: {COLUMN_HELP}.")
    tokenizer: Literal["word", "char"] = Field(
        "word", description="Split texts into words (and punctuation) or characters."
    )
    lowercase: bool = Field(True, description="Lower-case the text before tokenising.")
    min_freq: PositiveInt = Field(1, description="Tokens seen fewer times in the training split are out of vocabulary.")
    max_vocab: PositiveInt = Field(
        20_000, le=5_000_000, description="Keep at most this many of the most frequent tokens."
    )
    max_length: PositiveInt = Field(
        128, le=100_000, description="Tokens per text: longer texts are truncated, shorter ones padded."
    )


@DATA_KINDS.register("timeseries", target="dlkit.data.timeseries:build")
class TimeSeriesData(SplitParams):
    """One time series (one or more value columns) cut into sliding windows, split by time."""

    tasks: ClassVar[tuple[str, ...]] = ("forecasting",)
    kind: Literal["timeseries"] = Field("timeseries", description="Data kind.")
    path: str = Field(min_length=1, description="The CSV file; relative paths resolve against the recipe's folder.")
    sep: str | None = Field(None, description="Column separator; default from the extension (.tsv: tab, else comma).")
    encoding: str = Field("utf-8", description="Text encoding of the file.")
    time_column: Column | list[Column] = Field(
        description=f"The timestamp column ({COLUMN_HELP}), or several that make one: [year, quarter], "
        "[year, month] or [year, month, day]."
    )
    time_format: str | None = Field(
        None, description="strftime format of the time column (e.g. '%d.%m.%Y'); default: read dates as they come."
    )
    target_mode: Literal["level", "difference"] = Field(
        "level",
        description="level: the model predicts the future values; difference: it predicts their change from the "
        "last observed value (for series that trend beyond the levels seen in training). Forecasts, metrics and "
        "plots are levels either way.",
    )
    target: Column | list[Column] = Field(description="The column(s) to forecast.")
    features: list[Column] = Field(default_factory=list, description="Extra input columns (known in the past only).")
    window: PositiveInt = Field(24, le=1_000_000, description="Past time steps the model sees.")
    horizon: PositiveInt = Field(1, le=100_000, description="Future time steps it predicts.")
    impute: Literal["interpolate", "ffill"] | None = Field(
        None, description="Fill missing timestamps and values; unset, a gap is an error."
    )
    scale: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Scaling of every column, fitted on the training period only."
    )


class Augment(Strict):
    """Random changes to training images (never to validation or test images)."""

    shift: int = Field(
        0, ge=0, le=64, description="Largest random shift in pixels (zero padding), up/down and left/right."
    )
    flip: bool = Field(False, description="Random horizontal flips.")
    rotate: float = Field(0.0, ge=0.0, le=180.0, description="Largest random rotation in degrees.")
    noise: float = Field(0.0, ge=0.0, le=10.0, description="Standard deviation of added Gaussian noise (scaled units).")


@DATA_KINDS.register("images", target="dlkit.data.images:build")
class ImageFolderData(SplitParams):
    """A folder with one subfolder of PNG/JPEG images per class."""

    kind: Literal["images"] = Field("images", description="Data kind.")
    path: str = Field(min_length=1, description="The folder; relative paths resolve against the recipe's folder.")
    image_size: PositiveInt | tuple[PositiveInt, PositiveInt] | None = Field(
        None, description="Resize every image to this size (or [height, width]); default: the first image's size."
    )
    channels: Literal[1, 3] = Field(3, description="1 for greyscale, 3 for colour.")
    augment: Augment | None = Field(None, description="Augmentation of training batches.")
    memory_budget_mb: PositiveInt = Field(
        2048, description="Above this decoded size the images stream from disk through DataLoader workers."
    )
    num_workers: int = Field(2, ge=0, le=64, description="DataLoader workers when streaming.")


@DATA_KINDS.register("arrays", target="dlkit.data.arrays:build")
class ArraysData(SplitParams):
    """Arrays in an .npz file: X and y, and optionally X_test and y_test."""

    kind: Literal["arrays"] = Field("arrays", description="Data kind.")
    path: str = Field(min_length=1, description="The .npz file; relative paths resolve against the recipe's folder.")
