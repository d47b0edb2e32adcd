"""Parameter schema of the audio data kind: sound clips read as log-mel spectrograms (torch-free)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt

from dlkit.recipe.data_kinds import DATA_KINDS, Column, SplitParams
from dlkit.schema_base import Strict


class AudioAugment(Strict):
    """Random changes to training clips' spectrograms (never to validation or test clips)."""

    shift_ms: float = Field(
        0.0,
        ge=0.0,
        le=1000.0,
        description="Largest random time shift in milliseconds (circular: what leaves one end comes back at the other).",
    )
    gain_db: float = Field(0.0, ge=0.0, le=40.0, description="Largest random change of loudness in decibels.")
    noise: float = Field(0.0, ge=0.0, le=10.0, description="Standard deviation of added Gaussian noise (scaled units).")
    time_masks: int = Field(0, ge=0, le=10, description="SpecAugment: spans of frames set to the mean, per clip.")
    time_mask_ms: float = Field(100.0, gt=0.0, le=2000.0, description="Longest masked span of time, in milliseconds.")
    freq_masks: int = Field(0, ge=0, le=10, description="SpecAugment: bands of mel bins set to the mean, per clip.")
    freq_mask_bins: PositiveInt = Field(8, le=256, description="Widest masked band, in mel bins.")


@DATA_KINDS.register("audio", target="dlkit.data.audio:build")
class AudioData(SplitParams):
    """Sound clips (WAV, or FLAC with the audio extra), read as log-mel spectrograms: a folder with one
    subfolder of clips per class, or a table with a column of clip paths and a label column."""

    kind: Literal["audio"] = Field("audio", description="Data kind.")
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    path: str = Field(
        min_length=1,
        description="The folder, or a CSV/TSV/Parquet table of clips; relative paths resolve against the recipe's folder.",
    )
    target: Column | None = Field(None, description="A table's label column (a folder's labels are its subfolders).")
    path_column: Column = Field("path", description="A table's column of clip paths (relative to the table's folder).")
    split_column: Column | None = Field(
        None, description="A table's column with values train/val/test that fixes each clip's split."
    )
    sample_rate: PositiveInt = Field(
        16000, ge=1000, le=192_000, description="Every clip is resampled to this rate (Hz)."
    )
    duration: float = Field(
        1.0, gt=0.0, le=60.0, description="Seconds per clip: longer clips are cut, shorter ones padded with silence."
    )
    n_mels: PositiveInt = Field(64, ge=8, le=256, description="Mel bands of the spectrogram.")
    window_ms: float = Field(25.0, gt=0.0, le=1000.0, description="Length of the analysis window, in milliseconds.")
    hop_ms: float = Field(10.0, gt=0.0, le=1000.0, description="Step between windows (one frame), in milliseconds.")
    augment: AudioAugment | None = Field(None, description="Augmentation of training batches.")
