"""Parameter schemas of the data kinds, registered by name."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from dlkit.registry import Registry
from dlkit.schema_base import Strict

DATA_KINDS: Registry[type] = Registry("data kind")

BUILTIN_DATASETS = ("digits", "breast_cancer", "wine", "iris", "diabetes")


class SplitParams(Strict):
    """Fields shared by every data kind: holdout split and batching."""

    val_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="Share of the rows held out for validation.")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="Share of the rows held out for the final test.")
    seed: int = Field(0, description="Seed of the train/val/test split (independent of the training seed).")
    batch_size: PositiveInt = Field(64, le=1_000_000, description="Samples per training batch.")
    eval_batch_size: PositiveInt | None = Field(
        None, description="Samples per validation/test batch; defaults to 4x batch_size."
    )
    scale: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Feature scaling, fitted on the training split only."
    )

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> SplitParams:
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} leaves too little "
                "for training; keep the sum below 0.9"
            )
        return self


@DATA_KINDS.register("builtin", target="dlkit.data.builtin:build")
class BuiltinData(SplitParams):
    """A dataset bundled with scikit-learn (no download)."""

    kind: Literal["builtin"] = Field("builtin", description="Data kind.")
    name: Literal["digits", "breast_cancer", "wine", "iris", "diabetes"] = Field(
        description="digits (1x8x8 images, 10 classes), breast_cancer, wine, iris (tables, classification) "
        "or diabetes (table, regression)."
    )
