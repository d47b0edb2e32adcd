"""Collisions with another process creating the same table or key are retried; other errors are not."""

from __future__ import annotations

import pytest

from dlkit.retry import retry_collisions


def test_a_collision_is_retried_until_the_thing_exists() -> None:
    calls: list[int] = []

    def create() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError('duplicate key value violates unique constraint "dataset_pk"')
        return "ok"

    assert retry_collisions(create, attempts=4, pause=0.0) == "ok" and len(calls) == 3


def test_other_errors_and_the_last_collision_are_raised() -> None:
    def refused() -> None:
        raise ConnectionError("connection refused")

    with pytest.raises(ConnectionError):
        retry_collisions(refused, attempts=4, pause=0.0)

    def always() -> None:
        raise RuntimeError("table studies already exists")

    with pytest.raises(RuntimeError, match="already exists"):
        retry_collisions(always, attempts=2, pause=0.0)
