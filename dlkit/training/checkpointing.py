"""Checkpoint files: Lightning's writer made atomic and held within a time budget, and the resume checkpoint."""

from __future__ import annotations

import copy
import math
import os
import time
from collections import OrderedDict
from typing import Any

import lightning as L
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from dlkit.recipe.sections import Trainer


class CheckpointWriter(TorchCheckpointIO):
    """Lightning's checkpoint writer (a CheckpointIO plugin), atomic and within a time budget per file.

    Atomic: a file is written under a temporary name and renamed, so a crash or a full disk never leaves
    a half-written checkpoint in place of the previous good one.

    Budgeted: a checkpoint asked for sooner after its file's previous write than `1 / budget` times that
    write's cost is held in memory (a copy) instead of written. The next write the budget allows replaces
    it; any write first writes what the other files hold; and whatever is still held is written when
    Lightning tears the strategy down, which it does when training ends, stops early, is interrupted or
    fails: the files are current once `fit` returns, and a resume checkpoint is never ahead of the best
    checkpoint it names. A small model whose validation improves every epoch so writes its best
    checkpoint a few times a run, not every epoch. A checkpoint over `hold_limit` bytes of tensors is
    written at once (a copy of it would cost memory and time); a process killed outright leaves each
    file as of its last write.
    """

    #: the largest share of the run's time that writing one checkpoint file may take
    budget = 0.02
    hold_limit = 256 * 2**20

    def __init__(self) -> None:
        super().__init__()
        self._cost: dict[str, float] = {}
        self._written_at: dict[str, float] = {}
        self._held: dict[str, dict[str, Any]] = {}

    def holds(self, path: str) -> bool:
        """Whether a checkpoint asked for now at `path` would be held rather than written."""
        since = time.monotonic() - self._written_at.get(path, -math.inf)
        return since < self._cost.get(path, 0.0) / self.budget

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        path = str(path)
        if storage_options is None and self.holds(path) and _tensor_bytes(checkpoint) <= self.hold_limit:
            self._held[path] = _snapshot(checkpoint)
            return
        self._held.pop(path, None)
        # a file may refer to the others (the resume checkpoint records which epoch was best and its
        # score): what they hold is written first, so no file on disk is ahead of another
        self.flush()
        self._write(checkpoint, path, storage_options)

    def _write(self, checkpoint: dict[str, Any], path: str, storage_options: Any | None = None) -> None:
        partial = f"{path}.partial"
        start = time.monotonic()
        try:
            super().save_checkpoint(checkpoint, partial, storage_options)
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        self._written_at[path] = time.monotonic()
        self._cost[path] = self._written_at[path] - start

    def remove_checkpoint(self, path: Any) -> None:
        self._held.pop(str(path), None)
        super().remove_checkpoint(path)

    def flush(self) -> None:
        """Write every held checkpoint."""
        held, self._held = self._held, {}
        for path, checkpoint in held.items():
            self._write(checkpoint, path)

    def teardown(self) -> None:
        self.flush()
        super().teardown()


#: values a checkpoint holds that never change in place
_LEAVES = frozenset({str, bytes, int, float, bool, type(None)})


def _snapshot(value: Any) -> Any:
    """A copy of a checkpoint as it is now: the weights train on and callback states (the epoch history)
    keep growing. Tensors are cloned and containers rebuilt; immutable leaves are shared (a deep copy of
    the same checkpoint took several times as long)."""
    import torch

    kind = type(value)
    if kind in _LEAVES:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if kind in (dict, OrderedDict):
        return kind((k, _snapshot(v)) for k, v in value.items())
    if kind in (list, tuple):
        if all(type(v) in _LEAVES for v in value):  # the random generators' states: long runs of ints
            return list(value) if kind is list else value
        return kind(_snapshot(v) for v in value)
    return copy.deepcopy(value)


def _tensor_bytes(value: Any) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)) and not all(type(v) in _LEAVES for v in value):
        return sum(_tensor_bytes(v) for v in value)
    return 0


class LastCheckpoint(ModelCheckpoint):
    """The checkpoint a run resumes from, written at the end of an epoch (ModelCheckpoint's save_last
    only writes when the best one improves).

    An epoch whose checkpoint CheckpointWriter would only hold (its budget) is not even gathered; the
    run's final epoch always is. A run resumed from an earlier epoch trains the epochs after it again and
    logs none of them twice. Several processes (DDP) must agree on every save, so there every epoch is.
    """

    def _should_skip_saving_checkpoint(self, trainer: L.Trainer) -> bool:
        if super()._should_skip_saving_checkpoint(trainer):
            return True
        if trainer.world_size > 1 or _final_epoch(trainer):
            return False
        writer = trainer.strategy.checkpoint_io
        return isinstance(writer, CheckpointWriter) and writer.holds(self.format_checkpoint_name({}))


def _final_epoch(trainer: L.Trainer) -> bool:
    """Whether the epoch ending now is the fit's last (early stopping has already spoken: checkpoint
    callbacks run after the others)."""
    max_epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else math.inf
    max_steps = trainer.max_steps if trainer.max_steps >= 0 else math.inf
    return bool(trainer.should_stop) or trainer.current_epoch + 1 >= max_epochs or trainer.global_step >= max_steps


def checkpoint_callbacks(t: Trainer) -> tuple[ModelCheckpoint, LastCheckpoint]:
    """The best checkpoint (by the monitor) and the last one (to resume from).

    Given at construction, they replace Lightning's default checkpoint callback; their folder is set
    once the run exists (the run's artifact folder for a local store). The last checkpoint has a
    callback of its own: ModelCheckpoint's save_last only writes when the best one improves. The best
    one holds the weights (and dlkit's metadata), not the optimiser's state. Both files go through the
    trainer's CheckpointWriter (atomic, within a time budget).
    """
    best = ModelCheckpoint(
        filename="best",
        monitor=t.monitor,
        mode=t.resolved_monitor_mode(),
        save_top_k=1,
        enable_version_counter=False,
        save_weights_only=True,  # what testing, serving and init_from read; a run resumes from the last one
    )
    last = LastCheckpoint(filename="last", monitor=None, save_top_k=1, enable_version_counter=False)
    return best, last
