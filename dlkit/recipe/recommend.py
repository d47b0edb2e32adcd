"""Parameter schemas of recommendation: the table of interactions, the task and its two architectures."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt, model_validator

from dlkit import metric_names as m
from dlkit.recipe.architectures import ARCHITECTURES, Activation, ArchParams, InputKind, Width
from dlkit.recipe.data_kinds import COLUMN_HELP, DATA_KINDS, Column, TableFile
from dlkit.recipe.tasks import TASKS, TaskParams


@DATA_KINDS.register("ratings", target="dlkit.data.ratings:build")
class RatingsData(TableFile):
    """A table of interactions (CSV/TSV/Parquet): one row per user and item, with a rating or without one
    (implicit feedback: each row is an interaction), and optional columns describing users and items."""

    kind: Literal["ratings"] = Field("ratings", description="Data kind.")
    tasks: ClassVar[tuple[str, ...]] = ("recommendation",)
    user_column: Column = Field("user", description=f"The user of each interaction: {COLUMN_HELP}.")
    item_column: Column = Field("item", description=f"The item of each interaction: {COLUMN_HELP}.")
    rating_column: Column | None = Field(
        None,
        description="The rating of each interaction (numbers); unset: implicit feedback, ranking metrics only.",
    )
    time_column: Column | None = Field(
        None, description="When each interaction happened (numbers or dates): needed by split: time."
    )
    split: Literal["user", "time", "random"] = Field(
        "user",
        description="user: a random share (val_fraction, test_fraction) of each user's interactions is held out, "
        "so every user is known at test time; time: the oldest interactions train, the newest test (users or "
        "items first seen later are unknown to the model); random: rows drawn at random.",
    )
    user_features: list[Column] = Field(
        default_factory=list,
        description="Columns describing the user (model.arch two_tower): numbers are scaled, other values "
        "one-hot encoded (values like 'a|b' count as several labels); a user's first row holds them.",
    )
    item_features: list[Column] = Field(
        default_factory=list,
        description="Columns describing the item, encoded like user_features (e.g. genres, year).",
    )
    max_labels: PositiveInt = Field(
        50, le=1000, description="Labels kept per non-numeric side column: the most frequent in the training split."
    )

    @model_validator(mode="after")
    def _time_split_has_a_time(self) -> RatingsData:
        if self.split == "time" and self.time_column is None:
            raise ValueError("split: time needs data.time_column (when each interaction happened)")
        return self


@TASKS.register("recommendation", target="dlkit.tasks.recommendation:RecommendationTask")
class RecommendationParams(TaskParams):
    """Recommend items to users from their interactions: predicted ratings and a ranking of unseen items."""

    data_kinds: ClassVar[tuple[str, ...]] = ("ratings",)
    architectures: ClassVar[tuple[str, ...]] = ("mf", "two_tower")
    kind: Literal["recommendation"] = Field("recommendation", description="Task name.")
    k: PositiveInt = Field(
        10, le=1000, description="Length of the ranked list of recall_at_k and ndcg_at_k (and predict's default --top)."
    )
    negatives: PositiveInt = Field(
        4, le=100, description="Items drawn at random per interaction as non-interactions for the ranking loss."
    )
    ranking_weight: float = Field(
        1.0,
        ge=0.0,
        le=100.0,
        description="Weight of the ranking loss (interaction or not) beside the rating loss (mse on standardised "
        "ratings); implicit feedback has the ranking loss alone.",
    )
    relevant_from: float | None = Field(
        None,
        description="The held-out interactions that count as relevant for recall and NDCG: a rating at least "
        "this; unset: every held-out interaction.",
    )

    fit_metrics: ClassVar[tuple[str, ...]] = (
        m.TRAIN_LOSS,
        m.VAL_LOSS,
        m.VAL_RMSE,
        m.VAL_MAE,
        m.VAL_RECALL_AT_K,
        m.VAL_NDCG_AT_K,
    )
    test_metrics: ClassVar[tuple[str, ...]] = (
        m.TEST_LOSS,
        m.TEST_RMSE,
        m.TEST_MAE,
        m.TEST_RECALL_AT_K,
        m.TEST_NDCG_AT_K,
        m.TEST_RECALL_AT_K_POPULAR,
        m.TEST_NDCG_AT_K_POPULAR,
    )

    def fits_data(self, data: Any) -> None:
        if getattr(data, "rating_column", 0) is None and self.relevant_from is not None:
            raise ValueError("task.relevant_from needs data.rating_column (implicit feedback has no ratings)")

    def unlogged(self, data: Any) -> tuple[str, ...]:
        """Implicit feedback has no rating to score."""
        return (m.VAL_RMSE, m.VAL_MAE) if getattr(data, "rating_column", 0) is None else ()


class RecommenderParams(ArchParams):
    """What both recommenders share: an embedding per user and per item, with biases."""

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("pairs",)
    tasks: ClassVar[tuple[str, ...]] = ("recommendation",)
    dim: Width = Field(32, le=4096, description="Factors per user and per item (each of the two heads).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the user and item vectors while training.")
    reg: float = Field(
        0.1,
        ge=0.0,
        le=100.0,
        description="L2 penalty on the rating factors and biases of each training batch's users and items (mean "
        "squared norm per interaction): the usual regulariser of factorisation, where optim.weight_decay would "
        "shrink every user and item at each step, seen in the batch or not.",
    )
    ranking_reg: float = Field(
        0.01, ge=0.0, le=100.0, description="The same penalty on the factors and biases of the ranking head."
    )


@ARCHITECTURES.register("mf", target="dlkit.models.recommender:build")
class MatrixFactorizationParams(RecommenderParams):
    """Matrix factorisation: a rating is the mean plus user and item biases plus the dot product of their
    factors; a second set of factors scores whether the user interacts with the item."""

    arch: Literal["mf"] = Field("mf", description="Architecture name.")


@ARCHITECTURES.register("two_tower", target="dlkit.models.recommender:build")
class TwoTowerParams(RecommenderParams):
    """Two towers: an MLP over each user's embedding and side columns, another over each item's; the scores
    are dot products of their outputs plus biases (all items ranked with one matrix product)."""

    arch: Literal["two_tower"] = Field("two_tower", description="Architecture name.")
    hidden: list[Width] = Field([64], min_length=1, max_length=8, description="Hidden layer widths of each tower.")
    activation: Activation = Field("relu", description="Activation between the towers' layers.")
