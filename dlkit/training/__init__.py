"""Fitting a recipe: seeds, trainer, callbacks, checkpoints and the tracked run."""

from dlkit.training.run import RunResult, run

__all__ = ["RunResult", "run"]
