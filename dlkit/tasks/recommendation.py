"""Recommendation: a rating loss (mse on standardised ratings) and a ranking loss (each interaction against
`task.negatives` items drawn at random), rating metrics per interaction and ranking metrics per user.

Ranking metrics score every item for each held-out user with the interaction head, leave out the items the
user met in training (and, for the test split, in validation), and compare the top k with the user's held-out
interactions (with items known from training) through torchmetrics' retrieval metrics; the most popular
items of the training split are scored the same way beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection
from torchmetrics.retrieval import RetrievalNormalizedDCG, RetrievalRecall

from dlkit import metric_names as m
from dlkit import reports
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs
from dlkit.models.recommender import Recommender
from dlkit.recipe.recommend import RecommendationParams
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section
from dlkit.tasks import ranking
from dlkit.tasks.base import Task


class RecommendationTask(Task):
    """Predicts ratings (when the data has them) and ranks unseen items for each user."""

    explains = False
    target_mean: torch.Tensor
    target_std: torch.Tensor
    seen_ptr: torch.Tensor
    seen_items: torch.Tensor
    popularity: torch.Tensor

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        p = section(recipe.task, RecommendationParams)
        pre = info.preprocessing
        self.params = p
        self.rated = pre["rating_column"] is not None
        self.n_users, self.n_items = len(pre["users"]) + 1, len(pre["items"]) + 1
        low, high = pre.get("rating_range") or (-np.inf, np.inf)
        self.rating_range = (float(low), float(high))
        self.register_buffer("target_mean", torch.tensor(info.target_mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(info.target_std, dtype=torch.float32))
        # the training interactions (what is not recommended again) and each item's count in them
        self.register_buffer("seen_ptr", torch.zeros(self.n_users + 1, dtype=torch.long))
        self.register_buffer("seen_items", torch.zeros(int(pre["train_interactions"]), dtype=torch.long))
        self.register_buffer("popularity", torch.zeros(self.n_items))
        self.val_metrics = MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError()})
        self.test_metrics = self.val_metrics.clone()
        # one pair of metrics per use; kept apart (a MetricCollection would share their states)
        self.retrieval = nn.ModuleDict(
            {
                f"{name}_{measure}": metric(top_k=p.k, empty_target_action="skip")
                for name in ("val", "test", "popular")
                for measure, metric in (("recall", RetrievalRecall), ("ndcg", RetrievalNormalizedDCG))
            }
        )
        self._test: dict[str, list[torch.Tensor]] = {"x": [], "y": [], "out": []}
        self.test_outputs: dict[str, np.ndarray] = {}

    def setup(self, stage: str) -> None:
        """Before fitting: the training interactions and side columns into the buffers saved with the model."""
        module: Any = self.trainer.datamodule if self._trainer is not None else None  # type: ignore[attr-defined]
        if stage != "fit" or module is None or module.interactions is None:
            return
        x = module.splits["train"][0].long()
        ptr, items = ranking.csr(x[:, 0].cpu(), x[:, 1].cpu(), self.n_users)
        self.seen_ptr.copy_(ptr)
        self.seen_items.copy_(items)
        self.popularity.copy_(torch.bincount(x[:, 1].cpu(), minlength=self.n_items).float())
        sides = module.interactions
        self.net.user_side.copy_(torch.from_numpy(sides.user_side))
        self.net.item_side.copy_(torch.from_numpy(sides.item_side))

    # --- losses ---------------------------------------------------------------------------------

    def _rating_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out[:, 0], (y.flatten() - self.target_mean) / self.target_std)

    def _ranking_loss(self, x: torch.Tensor, out: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = self.params.negatives
        negatives = x.repeat(n, 1)
        drawn = torch.randint(1, max(self.n_items, 2), (len(negatives),), device=x.device, generator=generator)
        negatives[:, 1] = drawn.to(x.dtype)
        logits = torch.cat([out[:, 1], self.net(negatives)[:, 1]])
        labels = torch.cat([torch.ones(len(x), device=x.device), torch.zeros(len(negatives), device=x.device)])
        return F.binary_cross_entropy_with_logits(logits, labels)

    def _loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[Any, Any]:
        out = self.backbone(x)
        if not self.rated:
            return self._ranking_loss(x, out, generator), out
        loss = self._rating_loss(out, y)
        if self.params.ranking_weight:
            loss = loss + self.params.ranking_weight * self._ranking_loss(x, out, generator)
        return loss, out

    def training_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        loss, _ = self._loss(x, y)
        self.train_loss.update(loss, len(y))
        return loss + self.net.penalty(x)

    def predicted_ratings(self, rating: torch.Tensor) -> torch.Tensor:
        """The rating head in the data's units, within the ratings seen in training."""
        return (rating * self.target_std + self.target_mean).clamp(*self.rating_range)

    # --- validation and test --------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        # the same negatives every epoch, so val/loss moves with the model only
        self._val_draws = torch.Generator(device=self.device).manual_seed(0)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        loss, out = self._loss(x, y, self._val_draws)
        self.val_loss.update(loss, len(y))
        if self.rated:
            self.val_metrics.update(self.predicted_ratings(out[:, 0]), y.flatten())

    def compute_val_metrics(self) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        if self.rated:
            rating = self.val_metrics.compute()
            values = {m.VAL_RMSE: rating["mse"].sqrt(), m.VAL_MAE: rating["mae"]}
        self.val_metrics.reset()
        recall, ndcg = self.rank("val", self._model_scores)
        return {**values, m.VAL_RECALL_AT_K: recall, m.VAL_NDCG_AT_K: ndcg}

    def on_test_epoch_start(self) -> None:
        self._test = {"x": [], "y": [], "out": []}
        self._val_draws = torch.Generator(device=self.device).manual_seed(0)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        loss, out = self._loss(x, y, self._val_draws)
        self.test_loss.update(loss, len(y))
        if self.rated:
            self.test_metrics.update(self.predicted_ratings(out[:, 0]), y.flatten())
        for key, value in (("x", x), ("y", y), ("out", out)):
            self._test[key].append(value.detach().float())

    def on_test_epoch_end(self) -> None:
        values = {m.TEST_LOSS: self.test_loss.compute_and_reset()}
        if self.rated:
            rating = self.test_metrics.compute()
            values.update({m.TEST_RMSE: rating["mse"].sqrt(), m.TEST_MAE: rating["mae"]})
        self.test_metrics.reset()
        values[m.TEST_RECALL_AT_K], values[m.TEST_NDCG_AT_K] = self.rank("test", self._model_scores)
        values[m.TEST_RECALL_AT_K_POPULAR], values[m.TEST_NDCG_AT_K_POPULAR] = self.rank(
            "test", self._popular, "popular"
        )
        self.log_epoch(values, prog_bar=False)
        x, out = torch.cat(self._test["x"]).cpu(), torch.cat(self._test["out"]).cpu()
        self.test_outputs = {
            "x": x.long().numpy(),
            "target": torch.cat(self._test["y"]).cpu().flatten().numpy(),
            "rating": self.predicted_ratings(out[:, 0]).numpy(),
            "score": torch.sigmoid(out[:, 1]).numpy(),
        }

    def _model_scores(self, users: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net.all_items(users)[1])

    def _popular(self, users: torch.Tensor) -> torch.Tensor:
        return self.popularity.expand(len(users), -1).clone()

    def rank(self, split: str, scorer: Callable[[torch.Tensor], torch.Tensor], metric: str | None = None) -> Any:
        """(recall@k, NDCG@k) of `scorer`'s item scores (positive) on a split's held-out interactions, over
        its users known from training; the test split leaves out the validation split's items too."""
        module: Any = self.trainer.datamodule  # type: ignore[attr-defined]
        x, y = (t.to(self.device) for t in module.splits[split])
        codes = x.long()
        keep = (codes[:, 0] > 0) & (codes[:, 1] > 0)
        if self.params.relevant_from is not None:
            keep &= y.flatten() >= self.params.relevant_from
        held = ranking.csr(codes[keep, 0], codes[keep, 1], self.n_users)
        seen = [self.seen]
        if split == "test" and "val" in module.splits:  # not a new file (evaluate --data): its own interactions
            val = module.splits["val"][0].long().to(self.device)
            seen.append(ranking.csr(val[:, 0], val[:, 1], self.n_users))
        metrics = [cast(Metric, self.retrieval[f"{metric or split}_{measure}"]) for measure in ("recall", "ndcg")]
        k = min(self.params.k, self.n_items - 1)
        with torch.no_grad():
            for users in torch.split(torch.unique(codes[keep, 0]), ranking.USERS_PER_CHUNK):
                scores = scorer(users).float()
                ranking.mask(scores, users, seen, low=0.0)
                ranking.update(metrics, scores, users, held, k)
        values = tuple(each.compute() for each in metrics)
        for each in metrics:
            each.reset()
        return values

    @property
    def net(self) -> Recommender:
        """The backbone, typed."""
        return cast(Recommender, self.backbone)

    @property
    def seen(self) -> ranking.CSR:
        """The training interactions, by user."""
        return self.seen_ptr, self.seen_items

    # --- predictions ----------------------------------------------------------------------------

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        out = self.backbone(x)
        return torch.stack([self.predicted_ratings(out[:, 0]), torch.sigmoid(out[:, 1])], dim=1)

    def prediction_columns(self, out: np.ndarray) -> dict[str, Any]:
        """predicted_rating (rated data), then score: the probability that the user interacts with the item."""
        columns = {"predicted_rating": out[:, 0]} if self.rated else {}
        return {**columns, "score": out[:, 1]}

    def ranked_columns(self, raw: RawInputs, top: int | None) -> dict[str, list[Any]]:
        """The `top` (default task.k) items of each distinct user of `raw` that the user did not meet in
        training, best first: user, rank, item, score (and predicted_rating). An unknown user gets the items
        the model scores highest for anyone."""
        pre = self.info.preprocessing
        user_column = pre["user_column"]
        k = min(top or self.params.k, self.n_items - 1)
        seen: dict[Any, int] = {}
        for name, code in zip(raw.ids[user_column], raw.x[:, 0].astype(np.int64), strict=True):
            seen.setdefault(name, int(code))
        users = torch.tensor(list(seen.values()), dtype=torch.long)
        columns: dict[str, list[Any]] = {user_column: [], "rank": [], pre["item_column"]: [], "score": []}
        if self.rated:
            columns["predicted_rating"] = []
        with torch.inference_mode():
            for start in range(0, len(users), ranking.USERS_PER_CHUNK):
                chunk = users[start : start + ranking.USERS_PER_CHUNK]
                rating, logit = self.net.all_items(chunk)
                ranking.mask(logit, chunk, [self.seen])
                best = logit.topk(k, dim=1)
                for row, name in enumerate(list(seen)[start : start + ranking.USERS_PER_CHUNK]):
                    codes = best.indices[row].tolist()
                    columns[user_column] += [name] * k
                    columns["rank"] += list(range(1, k + 1))
                    columns[pre["item_column"]] += [pre["items"][c - 1] for c in codes]
                    columns["score"] += torch.sigmoid(best.values[row]).tolist()
                    if self.rated:
                        columns["predicted_rating"] += self.predicted_ratings(rating[row, best.indices[row]]).tolist()
        return columns

    def serving_params(self) -> dict[str, Any]:
        """top: above 0, the model lists each user's `top` best items; 0 (the default) scores each (user, item)
        row, and rows of users alone get task.k items each."""
        return {"top": 0}

    def optional_inputs(self) -> list[str]:
        return [self.info.preprocessing["item_column"]]

    def export_score(self, out: np.ndarray, y: np.ndarray) -> tuple[str, float] | None:
        if not self.rated:
            return None
        return "rmse", float(np.sqrt(np.mean((out[:, 0] - y.reshape(-1)) ** 2)))

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        """predictions.csv of the test interactions (and, with ratings, the residual plot)."""
        import pandas as pd

        out, pre = self.test_outputs, self.info.preprocessing
        if self.rated:
            reports.write_regression(folder, test_index, out["target"], out["rating"])
        names = {"users": np.asarray(["(unknown)", *pre["users"]]), "items": np.asarray(["(unknown)", *pre["items"]])}
        frame = pd.DataFrame({"index": test_index, pre["user_column"]: names["users"][out["x"][:, 0]],
                              pre["item_column"]: names["items"][out["x"][:, 1]]})  # fmt: skip
        if self.rated:
            frame["true"], frame["predicted"] = out["target"], out["rating"]
        frame["score"] = out["score"]
        frame.to_csv(folder / "predictions.csv", index=False)
