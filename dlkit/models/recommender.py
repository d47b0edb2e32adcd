"""Recommenders over (user, item) code pairs: matrix factorisation and two towers.

Both give every user and item a vector of 2 x dim factors and two biases; the first half of the factors and
the first bias score the rating, the second half and bias whether the user interacts with the item. Each
score is a dot product plus biases, so all items of a user are ranked with one matrix product. A tower adds
an MLP's output over the side columns to the embedding: it starts as matrix factorisation (its last layer is
zero) and learns what the side columns tell, which counts most for items with few ratings. Code 0 is an
unknown user or item: its embedding and biases are zero.
"""

from __future__ import annotations

import torch
from torch import nn

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.layers import activation
from dlkit.recipe.recommend import RecommenderParams, TwoTowerParams


def _embedding(n: int, width: int, std: float) -> nn.Embedding:
    emb = nn.Embedding(n, width, padding_idx=0)
    nn.init.normal_(emb.weight, std=std)
    with torch.no_grad():
        emb.weight[0].zero_()
    return emb


def _tower(inputs: int, hidden: list[int], out: int, act: str, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(inputs, width), activation(act), nn.Dropout(dropout)]
        inputs = width
    last = nn.Linear(inputs, out)
    nn.init.zeros_(last.weight)  # a tower starts as the identity on the embedding (see Recommender.users)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class Recommender(nn.Module):
    """Scores (user, item) pairs: forward(x) with x[:, 0] user codes and x[:, 1] item codes (as numbers)
    returns [rating on the standardised scale, interaction logit] per pair."""

    user_side: torch.Tensor
    item_side: torch.Tensor

    def __init__(self, params: RecommenderParams, n_users: int, n_items: int, user_side: int, item_side: int) -> None:
        super().__init__()
        d = self.dim = params.dim
        self.user_emb = _embedding(n_users, 2 * d, 0.05)
        self.item_emb = _embedding(n_items, 2 * d, 0.05)
        self.user_bias = _embedding(n_users, 2, 0.0)
        self.item_bias = _embedding(n_items, 2, 0.0)
        self.offset = nn.Parameter(torch.zeros(2))
        self.dropout = nn.Dropout(params.dropout)
        # side columns of each user and item (row 0: unknown), filled from the data before training
        self.register_buffer("user_side", torch.zeros(n_users, user_side))
        self.register_buffer("item_side", torch.zeros(n_items, item_side))
        self.user_tower: nn.Module | None = None
        self.item_tower: nn.Module | None = None
        if isinstance(params, TwoTowerParams):  # a tower per side that has columns
            if user_side:
                self.user_tower = _tower(user_side, params.hidden, 2 * d, params.activation, params.dropout)
            if item_side:
                self.item_tower = _tower(item_side, params.hidden, 2 * d, params.activation, params.dropout)
        self.reg, self.ranking_reg = params.reg, params.ranking_reg

    def users(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Factors (n, 2 dim) and biases (n, 2) of users."""
        z = self.user_emb(codes)
        if self.user_tower is not None:
            z = z + self.user_tower(self.user_side[codes])
        return self.dropout(z), self.user_bias(codes)

    def items(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Factors (n, 2 dim) and biases (n, 2) of items."""
        z = self.item_emb(codes)
        if self.item_tower is not None:
            z = z + self.item_tower(self.item_side[codes])
        return self.dropout(z), self.item_bias(codes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes = x.long()
        zu, bu = self.users(codes[:, 0])
        zi, bi = self.items(codes[:, 1])
        d = self.dim
        product = zu * zi
        dots = torch.stack([product[:, :d].sum(dim=1), product[:, d:].sum(dim=1)], dim=1)
        return dots + bu + bi + self.offset

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """reg and ranking_reg times the mean squared norm of the pairs' users' and items' factors and biases
        of each head."""
        codes = x.long()
        d = self.dim
        total = torch.zeros((), device=x.device)
        for emb, bias, column in ((self.user_emb, self.user_bias, 0), (self.item_emb, self.item_bias, 1)):
            z, b = emb(codes[:, column]), bias(codes[:, column])
            rating = z[:, :d].pow(2).sum(dim=1) + b[:, 0].pow(2)
            ranking = z[:, d:].pow(2).sum(dim=1) + b[:, 1].pow(2)
            total = total + self.reg * rating.mean() + self.ranking_reg * ranking.mean()
        return total

    def all_items(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ratings, logits) of every item for each user code, each (users, items) with item 0 unknown."""
        zu, bu = self.users(users)
        zi, bi = self.items(torch.arange(self.item_emb.num_embeddings, device=users.device))
        d = self.dim
        rating = zu[:, :d] @ zi[:, :d].T + bu[:, :1] + bi[:, 0] + self.offset[0]
        logit = zu[:, d:] @ zi[:, d:].T + bu[:, 1:] + bi[:, 1] + self.offset[1]
        return rating, logit


def build(params: RecommenderParams, info: DataInfo) -> Recommender:
    pre = info.preprocessing
    if "users" not in pre:
        raise BadInput(f"model.arch {params.arch} recommends from a table of interactions: use data.kind: ratings")
    user_side, item_side = len(pre.get("user_features", [])), len(pre.get("item_features", []))
    if (user_side or item_side) and not isinstance(params, TwoTowerParams):
        raise BadInput("data.user_features and data.item_features need model.arch: two_tower (mf reads ids only)")
    return Recommender(params, len(pre["users"]) + 1, len(pre["items"]) + 1, user_side, item_side)
