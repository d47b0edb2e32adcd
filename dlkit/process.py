"""dlkit's heavy imports: the garbage collector around them (and in dlkit's own processes), their log output.

Importing Lightning and MLflow leaves hundreds of thousands of long-lived objects and almost no
garbage, yet Python's collector would walk them again and again. Around those imports the collector
pauses (in any process); in a process that is dlkit's own (the script, tuning workers, DDP ranks)
what they left is then frozen out of later collections (`gc.freeze`) and young objects are collected
less often. A library user's interpreter is only paused, never frozen or retuned.
"""

from __future__ import annotations

import gc
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: young objects allocated before a collection, in dlkit's own processes (Python's default: 700)
YOUNG_THRESHOLD = 5000

_own = False
_frozen = False


def tune_collector() -> None:
    """Mark this process as dlkit's own (the `dlkit` script): its collector is set for training."""
    global _own
    _own = True
    first, *older = gc.get_threshold()
    gc.set_threshold(max(first, YOUNG_THRESHOLD), *older)


def is_own() -> bool:
    return _own


@contextmanager
def heavy_importing() -> Iterator[None]:
    """Pause the collector while importing; in dlkit's own process, freeze what the first imports left."""
    global _frozen
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
    if _own and not _frozen:
        _frozen = True
        gc.freeze()


def heavy_imports() -> None:
    """Import Lightning and MLflow with the collector paused, then silence what they print."""
    with heavy_importing():
        import lightning  # noqa: F401
        import mlflow  # noqa: F401

    silence_libraries()


def silence_libraries() -> None:
    """Raise Lightning's and MLflow's loggers to WARNING and drop advisory warnings.

    Call it after importing them: both set their own log level on import.
    """
    # MLflow draws a progress bar for every artifact download
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in (
        "lightning",
        "lightning.pytorch",
        "lightning.fabric",
        "lightning_fabric",
        "pytorch_lightning",
        "mlflow",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        r".*does not have many workers.*",
        r".*is smaller than the logging interval.*",
        r".*Checkpoint directory .* exists and is not empty.*",
        r".*LeafSpec.*",
        r".*`isinstance\(treespec, LeafSpec\)`.*",
        r".*The number of training batches.*",
        r".*GPU available but not used.*",
        r".*could not determine.*batch_size.*",
        r".*Trying to infer the `batch_size`.*",
        r".*The `srun` command is available.*",
        r".*dataset source can be interpreted in multiple ways.*",
        r".*callbacks used to create the checkpoint need to be provided.*",  # the test-only Trainer after DDP
    ):
        warnings.filterwarnings("ignore", message=pattern)
