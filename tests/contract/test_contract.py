"""The standing contract test: generated hostile inputs through the real CLI, in subprocesses.

For every case: exit 0, or exit 2 with a short message naming what to change; no traceback, signal
exit or "unexpected"; nothing left behind after an exit 2; within 60 s and 1 GB (see harness.py).
The fast profile runs with `nox -s tests` (a fixed sample, the same on every run); the long one, a
fresh random sample each time, with `nox -s slow`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.contract import cases
from tests.contract.harness import check, run_case

FAST = settings(
    max_examples=6, derandomize=True, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
LONG = settings(
    max_examples=25, deadline=None, database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)  # fmt: skip


def _in_fresh_folder(files: dict[str, bytes], args: Callable[[Path], list[str]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dlkit-contract-"))
    try:
        brought = {"table.csv": cases.TABLE.encode(), "series.csv": cases.SERIES.encode(), **files}
        for name, data in brought.items():
            (folder / name).write_bytes(data)
        check(run_case(args(folder), folder), folder, set(brought))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _recipe(base: str, raw: dict[str, Any], text: bytes) -> None:
    command = {"tune": ["tune", "recipe.yaml", "--trials", "1"]}.get(base, ["train", "recipe.yaml"])
    _in_fresh_folder({"recipe.yaml": text}, lambda _: [*command, *cases.BOUNDS])


def _overrides(items: list[str]) -> None:
    _in_fresh_folder({}, lambda _: ["train", "iris-mlp", *items, *cases.BOUNDS])


def _csv(case: cases.CsvCase) -> None:
    _in_fresh_folder(
        {case.name: case.data}, lambda _: ["train", case.name, "--target", case.target, *case.extra, *cases.BOUNDS]
    )


def _command(args: list[str]) -> None:
    _in_fresh_folder({}, lambda _: args)


recipes = st.sampled_from(sorted(cases.BASES)).flatmap(
    lambda base: cases.mutated(base).flatmap(lambda raw: cases.recipe_text(raw).map(lambda text: (base, raw, text)))
)


@FAST
@given(case=recipes)
def test_mutated_recipes_keep_the_contract(case: tuple[str, dict[str, Any], bytes]) -> None:
    _recipe(*case)


@FAST
@given(items=cases.OVERRIDES)
def test_random_overrides_keep_the_contract(items: list[str]) -> None:
    _overrides(items)


@FAST
@given(case=cases.csv_file())
def test_generated_data_files_keep_the_contract(case: cases.CsvCase) -> None:
    _csv(case)


@FAST
@given(args=cases.command_line())
def test_generated_command_lines_keep_the_contract(args: list[str]) -> None:
    _command(args)


@pytest.mark.slow
@LONG
@given(case=recipes)
def test_mutated_recipes_keep_the_contract_long(case: tuple[str, dict[str, Any], bytes]) -> None:
    _recipe(*case)


@pytest.mark.slow
@LONG
@given(items=cases.OVERRIDES)
def test_random_overrides_keep_the_contract_long(items: list[str]) -> None:
    _overrides(items)


@pytest.mark.slow
@LONG
@given(case=cases.csv_file())
def test_generated_data_files_keep_the_contract_long(case: cases.CsvCase) -> None:
    _csv(case)


@pytest.mark.slow
@LONG
@given(args=cases.command_line())
def test_generated_command_lines_keep_the_contract_long(args: list[str]) -> None:
    _command(args)
