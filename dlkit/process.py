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


def busy_cores(samples: int = 3, interval: float = 0.01) -> int:
    """Cores that other work holds right now: the runnable tasks the kernel counts (Linux's
    procs_running), this one left out, at the quietest of a few quick looks; 0 where it cannot tell."""
    import time

    seen = []
    for i in range(samples):
        if i:
            time.sleep(interval)
        try:
            with open("/proc/stat") as f:
                line = next((x for x in f if x.startswith("procs_running")), "")
        except OSError:
            return 0
        if not line:
            return 0
        seen.append(int(line.split()[1]))
    return max(0, min(seen) - 1)


#: how long one look at the machine's load stands for the runs that follow it (a study's trials follow
#: each other closely; each look costs a few hundredths of a second, a tenth of a short trial's own cost)
LOOK_SECONDS = 5.0
_look: tuple[float, int] | None = None


def _recent_busy_cores() -> int:
    import time

    global _look
    now = time.monotonic()
    if _look is None or now - _look[0] > LOOK_SECONDS:
        _look = (now, busy_cores())
    return _look[1]


def training_threads(cores: int | None = None, busy: int | None = None) -> int:
    """Intra-op threads for a run nobody set threads for: the cores other work leaves free, at least one.

    PyTorch takes every core by default, and its OpenMP threads spin while they wait for each other:
    when other processes hold cores, a spinning thread keeps the one it waits for off the CPU and
    training crawls (docs/pages/performance.md, "Threads on a busy machine"). On a free machine this
    is every core, as PyTorch would choose.
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    busy = busy if busy is not None else _recent_busy_cores()
    return max(1, cores - busy)


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
