"""Retrying an operation that collided with another process creating the same thing at the same instant."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: what stores say when the table, row or key just created by another process already exists
COLLISIONS = ("already exists", "duplicate", "unique")


def retry_collisions(call: Callable[[], T], *, attempts: int, pause: float, markers: tuple[str, ...] = COLLISIONS) -> T:
    """`call()`; when it fails because another process created the same table or key first (the error
    names it), wait `pause` seconds and try again: the thing exists now. Any other error is raised."""
    for _ in range(attempts - 1):
        try:
            return call()
        except Exception as e:
            if not any(marker in str(e).lower() for marker in markers):
                raise
            time.sleep(pause)
    return call()
