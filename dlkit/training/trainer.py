"""The Lightning Trainer of a recipe's `trainer` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.utilities.exceptions import MisconfigurationException

from dlkit.errors import BadInput
from dlkit.recipe.sections import Trainer
from dlkit.training.checkpointing import CheckpointWriter


def make_trainer(t: Trainer, callbacks: list[Any], root: Path, progress_bar: bool, single: bool = False) -> L.Trainer:
    """The Trainer; `single`: one process on one device of the same kind (for the test split after DDP)."""
    try:
        trainer = L.Trainer(
            max_epochs=t.max_epochs,
            accelerator=t.accelerator,
            devices=1 if single else t.devices,
            strategy="auto" if single else t.strategy,
            num_nodes=1 if single else t.num_nodes,
            precision=t.precision,
            deterministic=t.deterministic,
            fast_dev_run=t.fast_dev_run,
            limit_train_batches=t.limit_train_batches,
            limit_val_batches=t.limit_val_batches,
            # gradient clipping happens in Task.optimize (manual optimisation)
            callbacks=callbacks,
            plugins=[CheckpointWriter()],  # atomic checkpoint files, written within a time budget
            logger=False,
            default_root_dir=str(root),
            enable_model_summary=False,
            enable_progress_bar=progress_bar,
            num_sanity_val_steps=0,
        )
    except (MisconfigurationException, ValueError, RuntimeError) as e:  # no GPU, an unknown strategy, ...
        message = str(e).strip().splitlines()[0]
        raise BadInput(
            f"trainer (accelerator={t.accelerator}, devices={t.devices}, strategy={t.strategy}): {message}",
            hint="trainer.accelerator=auto trains on a GPU when this machine has one, else on the CPU",
        ) from None
    _check_cpu(t, trainer)
    return trainer


def _check_cpu(t: Trainer, trainer: L.Trainer) -> None:
    """What the CPU cannot do well: float16 weights (NaN losses), and more "devices" (processes) than
    cores, which only fight over the same cores (a typo, devices=1000, would start a thousand)."""
    import os

    from lightning.pytorch.accelerators import CPUAccelerator

    cores = os.cpu_count() or 1
    if isinstance(trainer.accelerator, CPUAccelerator) and t.precision == "16-true":
        raise BadInput(
            "trainer.precision 16-true: float16 weights on the CPU overflow to a NaN loss within a few steps",
            hint="use 32-true, or bf16-mixed on the CPU",
        )
    if isinstance(trainer.accelerator, CPUAccelerator) and trainer.num_devices > cores:
        raise BadInput(
            f"trainer.devices {t.devices}: on the CPU each device is a process; this machine has {cores} core(s)",
            hint=f"use trainer.devices={cores} or fewer, or trainer.num_nodes to spread over machines",
        )
