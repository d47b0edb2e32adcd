"""Batches over in-memory tensors by slicing shuffled indices, grouped for the training split.

Per-sample `__getitem__` plus collate costs more than a small model's step; slicing whole tensors
costs microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class _EpochShuffle:
    """Seeds each epoch's permutation from (seed, epoch): reproducible and resumable.

    Lightning calls `set_epoch` on a loader's `sampler` at the start of every epoch.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self, n: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(n, generator=gen)


class StepGroup(tuple):  # type: ignore[type-arg]
    """Consecutive training batches that one Lightning step runs as that many optimisation steps.

    Lightning spends a fixed cost of hook dispatch on every training step; a group of
    `trainer.steps_per_call` batches pays it once. The batches, their order and the optimiser
    steps are exactly those of one batch per call.
    """


class TensorBatches:
    """Batches over aligned tensors; optional shuffling, sharding across distributed ranks, and
    grouping of consecutive batches (StepGroup) for the training split."""

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        group: int = 1,
    ) -> None:
        self.tensors = tensors
        self.group = group
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = _EpochShuffle(seed)
        self.batch_sampler = None  # Lightning inspects both attributes of a loader
        self.rank = rank
        self.world_size = world_size

    def _rows(self) -> int:
        n = len(self.tensors[0])
        return math.ceil(n / self.world_size) if self.world_size > 1 else n

    def __len__(self) -> int:
        """Items per epoch: batches, or groups of `group` batches."""
        return math.ceil(self.steps_per_epoch() / self.group)

    def steps_per_epoch(self) -> int:
        """Batches (optimisation steps, for the training split) per epoch."""
        rows = self._rows()
        batches = math.ceil(rows / self.batch_size)
        # a trailing batch of one sample breaks batch norm in training: it is merged away
        if self.shuffle and batches > 1 and rows % self.batch_size == 1:
            batches -= 1
        return batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.group == 1:
            yield from self._batches()
            return
        pending: list[tuple[torch.Tensor, ...]] = []
        for batch in self._batches():
            pending.append(batch)
            if len(pending) == self.group:
                yield StepGroup(pending)
                pending = []
        if pending:
            yield StepGroup(pending)

    def _batches(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        index: torch.Tensor | None = self.sampler.permutation(n) if self.shuffle else None
        if self.world_size > 1:
            # every rank gets the same number of rows (padding by wrap-around), as DistributedSampler does
            base = index if index is not None else torch.arange(n)
            per_rank = self._rows()
            padded = (
                torch.cat([base, base[: per_rank * self.world_size - n]]) if per_rank * self.world_size > n else base
            )
            index = padded[self.rank :: self.world_size]
        if index is not None and self.tensors[0].device.type != "cpu":
            index = index.to(self.tensors[0].device)  # once per epoch, not once per batch
        rows = len(index) if index is not None else n
        count = self.steps_per_epoch()
        for b in range(count):
            start = b * self.batch_size
            stop = rows if b == count - 1 else start + self.batch_size
            if index is None:
                yield tuple(t[start:stop] for t in self.tensors)
            else:
                sel = index[start:stop]
                yield tuple(t.index_select(0, sel) for t in self.tensors)
