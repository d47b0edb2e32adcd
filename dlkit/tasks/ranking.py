"""Ranking every item for many users at once: interactions as CSR arrays, seen items masked, and the top k
with each user's held-out items handed to torchmetrics' retrieval metrics.

A user's recall@k and NDCG@k depend only on the top k and on the relevant items, so the metrics receive
those (k + the relevant items below the top k per user) instead of a score for every item: the same
values, with memory that does not grow with the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torchmetrics import Metric

#: users scored at once when ranking every item
USERS_PER_CHUNK = 256

CSR = tuple[torch.Tensor, torch.Tensor]


def csr(users: torch.Tensor, items: torch.Tensor, n_users: int) -> CSR:
    """Each user's items: offsets (n_users + 1) into the items sorted by user."""
    order = torch.argsort(users, stable=True)
    counts = torch.bincount(users, minlength=n_users)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)]), items[order]


def rows_of(lists: CSR, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(position in `users`, item) for every item of each of `users`."""
    ptr, values = lists
    starts, lengths = ptr[users], ptr[users + 1] - ptr[users]
    rows = torch.repeat_interleave(torch.arange(len(users), device=users.device), lengths)
    firsts = torch.repeat_interleave(starts - torch.cumsum(lengths, 0) + lengths, lengths)
    return rows, values[firsts + torch.arange(len(rows), device=users.device)]


def mask(scores: torch.Tensor, users: torch.Tensor, seen: Iterable[CSR], low: float | None = None) -> None:
    """Give the unknown item (0) and each user's `seen` items the lowest score (`low`, else the lowest
    number), in place: they are not recommended."""
    low = torch.finfo(scores.dtype).min if low is None else low
    scores[:, 0] = low
    for lists in seen:
        scores[rows_of(lists, users)] = low


def update(metrics: Iterable[Metric], scores: torch.Tensor, users: torch.Tensor, held: CSR, k: int) -> None:
    """Feed retrieval metrics one chunk of users: `scores` (users x items, positive where retrievable: torchmetrics
    counts positive scores only) against the users' `held` items."""
    top = scores.topk(k, dim=1).indices
    relevant = torch.zeros_like(scores, dtype=torch.bool)
    relevant[rows_of(held, users)] = True
    in_top = torch.zeros_like(relevant).scatter_(1, top, True)
    rest = torch.nonzero(relevant & ~in_top, as_tuple=True)  # relevant items below the top k
    preds = torch.cat([scores.gather(1, top).flatten(), scores[rest]])
    target = torch.cat([relevant.gather(1, top).flatten(), torch.ones_like(rest[0], dtype=torch.bool)])
    indexes = torch.cat([users.repeat_interleave(k), users[rest[0]]])
    for metric in metrics:
        metric.update(preds, target, indexes=indexes)
