"""The garbage collector around dlkit's heavy imports, and in dlkit's own processes.

Importing Lightning and MLflow (with torch, SQLAlchemy and the rest) creates hundreds of
thousands of objects that live as long as the process, and almost no garbage, yet Python's
collector walks all of them again and again (figures in docs/pages/performance.md).

- Around the heavy imports the collector pauses (any process, library use included: it is
  switched back on afterwards if it was on).
- In a process that is dlkit's own (the `dlkit` script, its tuning workers and DDP ranks), the
  objects that exist after the first heavy imports are then frozen out of later collections
  (`gc.freeze`), and a collection of young objects waits for 5,000 new ones instead of 700. A
  library user's interpreter is never frozen or retuned.
"""

from __future__ import annotations

import gc
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
