"""The recipe's fixed sections: optimiser and schedule, early stopping, trainer, tracking."""

from __future__ import annotations

import posixpath
import re
from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator, model_validator

from dlkit import metric_names
from dlkit.schema_base import Strict

#: MLflow's rule for tag keys on POSIX (mlflow.utils.validation.validate_param_and_metric_name)
_TAG_KEY = re.compile(r"[/\w.\- :]+")
MAX_TAG_KEY = 250


class Scheduler(Strict):
    """Learning-rate schedule."""

    name: Literal["none", "step", "cosine", "plateau", "onecycle"] = Field(
        "none",
        description="none, step (multiply by gamma every step_size epochs), cosine (anneal to min_lr over "
        "max_epochs), plateau (multiply by gamma when the monitored metric stalls), onecycle (per batch, peak at lr).",
    )
    step_size: PositiveInt = Field(10, description="step: epochs between decays.")
    gamma: float = Field(0.1, gt=0.0, lt=1.0, description="step and plateau: decay factor.")
    patience: int = Field(3, ge=0, description="plateau: epochs without improvement before a decay.")
    min_lr: NonNegativeFloat = Field(0.0, description="cosine and plateau: lower bound of the learning rate.")
    pct_start: float = Field(0.3, gt=0.0, lt=1.0, description="onecycle: share of the steps spent warming up.")


class Optim(Strict):
    """Optimiser, regularisation and learning-rate schedule."""

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = Field("adam", description="Optimiser.")
    lr: PositiveFloat = Field(1e-3, le=10.0, description="Learning rate (the peak rate for onecycle).")
    weight_decay: NonNegativeFloat = Field(0.0, description="L2 penalty (decoupled for adamw).")
    l1: NonNegativeFloat = Field(0.0, description="L1 penalty on the weights, added to the training loss.")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd and rmsprop: momentum.")
    nesterov: bool = Field(False, description="sgd: Nesterov momentum (needs momentum > 0).")
    betas: tuple[float, float] = Field(
        (0.9, 0.999), description="adam and adamw: coefficients of the running averages."
    )
    scheduler: Scheduler = Field(default_factory=Scheduler, description="Learning-rate schedule.")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("both betas must be in [0, 1)")
        return v

    @model_validator(mode="after")
    def _nesterov_needs_sgd_momentum(self) -> Optim:
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs name: sgd and momentum > 0")
        return self


class EarlyStopping(Strict):
    """Stop when the monitored validation metric stops improving."""

    monitor: str | None = Field(None, description="Metric to watch; defaults to trainer.monitor.")
    patience: int = Field(5, ge=1, description="Epochs without improvement before stopping.")
    min_delta: NonNegativeFloat = Field(0.0, description="Smallest change that counts as an improvement.")
    mode: Literal["min", "max"] | None = Field(
        None, description="min or max; inferred from the metric name when unset."
    )


class Trainer(Strict):
    """How the model is fitted: epochs, hardware, precision, seeds, clipping, checkpoints."""

    max_epochs: PositiveInt = Field(20, le=100_000, description="Maximum number of epochs.")
    monitor: str = Field(
        metric_names.VAL_LOSS,
        description="Validation metric that picks the best checkpoint (and drives early stopping by default).",
    )
    monitor_mode: Literal["min", "max"] | None = Field(
        None, description="Whether lower or higher monitor values are better; inferred from the name when unset."
    )
    early_stopping: EarlyStopping | None = Field(None, description="Early stopping; none trains all max_epochs.")
    gradient_clip_val: PositiveFloat | None = Field(None, description="Clip gradients to this norm (or value).")
    gradient_clip_algorithm: Literal["norm", "value"] = Field("norm", description="How gradients are clipped.")
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = Field(
        "auto", description="Hardware: auto uses a GPU when there is one."
    )
    devices: PositiveInt | Literal["auto"] = Field("auto", description="Number of devices (or auto).")
    strategy: str = Field("auto", description="Lightning strategy, e.g. ddp for multi-device training.")
    num_nodes: PositiveInt = Field(1, description="Machines taking part in distributed training.")
    precision: Literal["32-true", "32", "64-true", "64", "16-mixed", "bf16-mixed", "bf16-true", "16-true"] = Field(
        "32-true", description="Numerical precision (bf16-mixed on recent GPUs)."
    )
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Seed of weights initialisation, shuffling and dropout.")
    deterministic: bool = Field(False, description="Use deterministic algorithms (reproducible, sometimes slower).")
    unfreeze_at_epoch: int | None = Field(
        None, ge=0, description="Epoch (from 0) at which the modules in model.freeze start training too."
    )
    num_threads: PositiveInt | None = Field(
        None,
        le=1024,
        description="CPU threads torch may use; default: OMP_NUM_THREADS, else the cores no other work holds "
        "when the run starts (every core on an idle machine).",
    )
    compile: bool = Field(
        False, description="torch.compile the model (GPU: faster steps after a compilation of tens of seconds)."
    )
    channels_last: bool = Field(
        False, description="Images in channels-last memory layout (faster convolutions on GPUs with bf16/fp16)."
    )
    steps_per_call: PositiveInt = Field(
        8,
        le=1024,
        description="Training batches run as optimisation steps within one Lightning step: Lightning's per-step "
        "dispatch is paid once per group. Results are identical for any value; per-batch "
        "callbacks and the progress bar count groups. 1 gives one batch per Lightning step.",
    )

    fast_dev_run: bool | PositiveInt = Field(
        False,
        description="Lightning's fast_dev_run: true (or n) runs 1 (or n) training, validation and test batches "
        "to check the recipe end to end, in one epoch, without checkpoints or early stopping.",
    )
    limit_train_batches: PositiveInt | float = Field(
        1.0,
        description="Lightning's limit_train_batches: training batches per epoch, as a count (an integer) or a "
        "share of the split (a number up to 1.0, the default: all of them).",
    )
    limit_val_batches: PositiveInt | float = Field(
        1.0, description="Lightning's limit_val_batches: validation batches per epoch, a count or a share."
    )

    @field_validator("limit_train_batches", "limit_val_batches")
    @classmethod
    def _share_up_to_one(cls, v: int | float) -> int | float:
        if isinstance(v, float) and not 0.0 < v <= 1.0:
            raise ValueError("a share of the batches must be above 0.0 and at most 1.0 (or give a count)")
        return v

    @property
    def shortened(self) -> bool:
        """Whether fast_dev_run or a batch limit cuts the epochs short."""
        return bool(self.fast_dev_run) or self.limit_train_batches != 1.0 or self.limit_val_batches != 1.0

    def resolved_monitor_mode(self) -> Literal["min", "max"]:
        """The monitor's mode, inferred from its name when not set."""
        if self.monitor_mode:
            return self.monitor_mode
        return "min" if metric_names.lower_is_better(self.monitor) else "max"


class Tracking(Strict):
    """Where and how the run is recorded in MLflow."""

    enabled: bool = Field(
        True, description="Record the run in MLflow; false trains and tests without tracking (nothing is kept)."
    )
    experiment: str = Field("dlkit", min_length=1, max_length=500, description="MLflow experiment name.")
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI; --tracking-uri and MLFLOW_TRACKING_URI take precedence; "
        "defaults to sqlite:///mlflow.db in the working directory.",
    )
    run_name: str | None = Field(None, description="Run name; defaults to the recipe name.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Extra tags set on the run; keys of letters, digits, spaces and _ - . : / (MLflow's rule).",
    )

    @field_validator("tags")
    @classmethod
    def _mlflow_tag_keys(cls, tags: dict[str, str]) -> dict[str, str]:
        # MLflow refuses such a key only when the run already exists (mlflow.utils.validation)
        for key in tags:
            if not key or len(key) > MAX_TAG_KEY or not _TAG_KEY.fullmatch(key):
                raise ValueError(f"tag key {key!r}: MLflow takes 1 to {MAX_TAG_KEY} letters, digits, spaces, _ - . : /")
            if posixpath.normpath(key) != key or key.startswith(("/", "..")):
                raise ValueError(
                    f"tag key {key!r}: MLflow refuses a key that reads as another path ({posixpath.normpath(key)!r})"
                )
        return tags

    system_metrics: bool = Field(
        False,
        description="Record CPU, memory, disk, network and GPU use during training (MLflow's system metrics, "
        "`system/...`, the run's System metrics tab).",
    )
    system_metrics_interval: PositiveFloat = Field(
        10.0, ge=1.0, description="Seconds between two samples of the system metrics."
    )
    log_checkpoint: bool = Field(True, description="Store the best checkpoint as a run artifact.")
    log_model: bool = Field(
        True,
        description="Store an MLflow pyfunc model (network and fitted preprocessing) under the run's `model` "
        "artifact path, for mlflow.pyfunc.load_model and mlflow models serve (table, text and series data).",
    )
