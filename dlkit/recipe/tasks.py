"""Parameter schemas of the tasks, registered by name, with the metrics each logs."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from dlkit import metric_names as m
from dlkit.registry import Registry
from dlkit.schema_base import Strict

TASKS: Registry[type] = Registry("task")


class TaskParams(Strict):
    """Common base of task parameters."""

    kind: str
    #: whether the data's target holds class labels (classification, and label-aware unsupervised tasks)
    labelled: ClassVar[bool] = False
    #: metrics logged once per epoch during fit (candidates for monitor, early stopping, tuning)
    fit_metrics: ClassVar[tuple[str, ...]] = ()
    #: metrics logged on the test split
    test_metrics: ClassVar[tuple[str, ...]] = ()
    #: the data kinds it learns from (empty: any kind that does not restrict its own tasks)
    data_kinds: ClassVar[tuple[str, ...]] = ()
    #: the architectures it trains (empty: any that does not restrict its own tasks)
    architectures: ClassVar[tuple[str, ...]] = ()
    #: optimisers stepped on each batch (more than one: no gradient clipping, no schedule)
    optimizers: ClassVar[int] = 1

    @property
    def excluded_from_training(self) -> list[str]:
        """Classes the data module keeps out of the training and validation splits (none by default)."""
        return []

    def logged_fit_metrics(self) -> list[str]:
        """The metrics a run logs once per epoch (a task whose names depend on its settings overrides it)."""
        return list(self.fit_metrics)

    def fits_data(self, data: Any) -> None:
        """Raise ValueError when a task option contradicts the data section (nothing by default)."""

    def unlogged(self, data: Any) -> tuple[str, ...]:
        """Fit metrics this data gives no value for (e.g. ratings of implicit feedback): none by default."""
        return ()

    @property
    def target_scaling(self) -> str:
        """How a continuous target is transformed while fitting: none, standard or log1p (then standardised)."""
        return "standard"


class GroupReportParams(TaskParams):
    """The tasks whose test metrics can be reported per group of a table's column."""

    report_by: list[str] = Field(
        default_factory=list,
        description="Columns of the table (features or not, e.g. one left out with data.drop) whose groups each "
        "get the test metrics (classification: also the positive rate, true and false positive rates and "
        "calibration) and the largest gap between groups: test/by/COLUMN/GROUP/MEASURE, test/gap/COLUMN/MEASURE, "
        "a table and a figure under by_group/. A numeric column with many values is cut into quartile bands.",
    )


@TASKS.register("classification", target="dlkit.tasks.classification:ClassificationTask")
class ClassificationParams(GroupReportParams):
    """Binary or multiclass classification with cross-entropy."""

    kind: Literal["classification"] = Field("classification", description="Task name.")
    labelled: ClassVar[bool] = True
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Label smoothing of the cross-entropy loss.")
    class_weights: Literal["balanced"] | list[PositiveFloat] | None = Field(
        None,
        description="Loss weight per class: 'balanced' (inverse class frequency on the training split), "
        "a list with one weight per class, or none.",
    )
    calibrate: Literal["none", "temperature"] = Field(
        "none",
        description="temperature: after training, fit one temperature that divides the logits on the validation "
        "split (lowest negative log-likelihood), so the probabilities of the test metrics, predict and the MLflow "
        "model are calibrated; predictions do not change.",
    )

    fit_metrics: ClassVar[tuple[str, ...]] = (m.TRAIN_LOSS, m.VAL_LOSS, m.VAL_ACC, m.VAL_F1_MACRO)
    test_metrics: ClassVar[tuple[str, ...]] = (
        m.TEST_LOSS,
        m.TEST_ACC,
        m.TEST_PRECISION_MACRO,
        m.TEST_RECALL_MACRO,
        m.TEST_F1_MACRO,
        m.TEST_F1_WEIGHTED,
        m.TEST_ROC_AUC,
    )


class PointLossParams(TaskParams):
    """The loss fields shared by regression and forecasting."""

    loss: Literal["mse", "mae", "huber"] = Field("mse", description="Training loss (on standardised targets).")
    huber_delta: PositiveFloat = Field(1.0, description="Threshold of the huber loss, in standardised target units.")


@TASKS.register("regression", target="dlkit.tasks.regression:RegressionTask")
class RegressionParams(PointLossParams, GroupReportParams):
    """Regression of one or more continuous targets."""

    kind: Literal["regression"] = Field("regression", description="Task name.")
    scale_target: bool = Field(
        True,
        description="Standardise the target with training-split statistics while fitting (metrics stay in original "
        "units); target_transform, when set, decides instead.",
    )
    target_transform: Literal["none", "standard", "log1p"] | None = Field(
        None,
        description="The target while fitting: none, standard (standardised with training statistics) or log1p "
        "(log(1 + y), then standardised: for skewed positive targets such as prices); predictions, metrics and "
        "plots stay in the target's units. Unset: standard, or none with scale_target: false.",
    )

    @property
    def target_scaling(self) -> str:
        return self.target_transform or ("standard" if self.scale_target else "none")

    fit_metrics: ClassVar[tuple[str, ...]] = (m.TRAIN_LOSS, m.VAL_LOSS, m.VAL_RMSE, m.VAL_MAE)
    test_metrics: ClassVar[tuple[str, ...]] = (m.TEST_LOSS, m.TEST_MSE, m.TEST_RMSE, m.TEST_MAE, m.TEST_R2)


@TASKS.register("forecasting", target="dlkit.tasks.forecasting:ForecastingTask")
class ForecastingParams(PointLossParams):
    """Forecasting the next `data.horizon` steps of a time series from the last `data.window` steps."""

    data_kinds: ClassVar[tuple[str, ...]] = ("timeseries",)
    kind: Literal["forecasting"] = Field("forecasting", description="Task name.")
    #: series are always fitted on values scaled like the model's inputs (the naive forecast needs it)
    scale_target: ClassVar[bool] = True

    fit_metrics: ClassVar[tuple[str, ...]] = (m.TRAIN_LOSS, m.VAL_LOSS, m.VAL_RMSE, m.VAL_MAE, m.VAL_RMSE_NAIVE)
    test_metrics: ClassVar[tuple[str, ...]] = (
        m.TEST_LOSS,
        m.TEST_MSE,
        m.TEST_RMSE,
        m.TEST_MAE,
        m.TEST_R2,
        m.TEST_RMSE_NAIVE,
        m.TEST_MAE_NAIVE,
    )


@TASKS.register("reconstruction", target="dlkit.tasks.reconstruction:ReconstructionTask")
class ReconstructionParams(TaskParams):
    """Reconstruct the inputs (autoencoder); per-sample errors are anomaly scores."""

    architectures: ClassVar[tuple[str, ...]] = ("autoencoder",)
    kind: Literal["reconstruction"] = Field("reconstruction", description="Task name.")
    labelled: ClassVar[bool] = True
    loss: Literal["mse", "mae"] = Field("mse", description="Reconstruction loss (on scaled inputs).")
    noise_std: float = Field(
        0.0, ge=0.0, le=10.0, description="Denoising: Gaussian noise added to training inputs (scaled units); 0 is off."
    )
    threshold_quantile: float = Field(
        0.99, gt=0.0, lt=1.0, description="The anomaly threshold is this quantile of the validation scores."
    )
    anomaly_classes: list[str] = Field(
        default_factory=list,
        description="Classes that count as anomalies: left out of training and validation, and scored on the "
        "test split (precision, recall, F1, AUROC).",
    )

    fit_metrics: ClassVar[tuple[str, ...]] = (m.TRAIN_LOSS, m.VAL_LOSS, m.VAL_MSE)
    test_metrics: ClassVar[tuple[str, ...]] = (
        m.TEST_LOSS,
        m.TEST_MSE,
        m.TEST_MAE,
        m.TEST_ANOMALY_THRESHOLD,
        m.TEST_ANOMALY_PRECISION,
        m.TEST_ANOMALY_RECALL,
        m.TEST_ANOMALY_F1,
        m.TEST_ANOMALY_AUROC,
    )

    @property
    def excluded_from_training(self) -> list[str]:
        """The anomaly classes: the autoencoder learns what normal looks like."""
        return list(self.anomaly_classes)


@TASKS.register("generation", target="dlkit.tasks.generation:GenerationTask")
class GenerationParams(TaskParams):
    """Generate new samples with a GAN (optionally of a requested class)."""

    architectures: ClassVar[tuple[str, ...]] = ("gan",)
    optimizers: ClassVar[int] = 2  # generator and discriminator
    kind: Literal["generation"] = Field("generation", description="Task name.")
    labelled: ClassVar[bool] = True
    lr_discriminator: PositiveFloat | None = Field(
        None, description="Learning rate of the discriminator (default: optim.lr)."
    )
    label_smoothing: float = Field(
        0.1, ge=0.0, lt=0.5, description="One-sided label smoothing of real samples for the discriminator."
    )
    judge: str | None = Field(
        None,
        description="A dlkit classifier (run id or checkpoint) trained on the same data: the share of generated "
        "samples it assigns to the requested class is val/ and test/class_fidelity.",
    )
    samples_per_class: PositiveInt = Field(
        100, le=100_000, description="Generated samples per class for class_fidelity."
    )
    sample_every: PositiveInt = Field(5, description="Log a grid of generated samples every this many epochs.")

    fit_metrics: ClassVar[tuple[str, ...]] = (
        m.TRAIN_LOSS,
        m.TRAIN_LOSS_G,
        m.TRAIN_LOSS_D,
        m.VAL_LOSS,
        m.VAL_CLASS_FIDELITY,
    )
    test_metrics: ClassVar[tuple[str, ...]] = (m.TEST_LOSS, m.TEST_CLASS_FIDELITY)
