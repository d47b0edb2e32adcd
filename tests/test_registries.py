"""Every registered entry has what docs/pages/architecture.md promises: read from the registries, so a new
architecture, data kind or task that lacks a part fails here."""

from __future__ import annotations

import inspect
from typing import get_args

import pytest

from dlkit import metric_names
from dlkit.recipe.architectures import ARCHITECTURES, InputKind
from dlkit.recipe.bundled import bundled_recipes
from dlkit.recipe.data_kinds import DATA_KINDS
from dlkit.recipe.tasks import TASKS
from dlkit.registry import Entry
from dlkit.tasks.base import Task
from dlkit.yaml_io import parse
from tests.conftest import ROOT

PAGE = (ROOT / "docs" / "pages" / "architecture.md").read_text()


def described(entry: Entry, tag: str) -> None:
    """The schema names its entry by its tag and describes every field (the help and reference pages)."""
    fields = entry.params.model_fields
    assert fields[tag].default == entry.name, f"{entry.name}: {tag} defaults to {fields[tag].default!r}"
    missing = [name for name, f in fields.items() if not f.description]
    assert not missing, f"{entry.name}: fields without a description: {missing}"
    assert entry.summary, f"{entry.name}: no summary line"


def bundled_uses() -> dict[str, set[str]]:
    """Which architectures, data kinds and tasks the bundled recipes use."""
    used: dict[str, set[str]] = {"arch": set(), "data": set(), "task": set()}
    for path in bundled_recipes().values():
        raw = parse(path.read_text(encoding="utf-8"))
        used["arch"].add(raw["model"]["arch"])
        used["data"].add(raw["data"]["kind"])
        task = raw["task"]
        used["task"].add(task if isinstance(task, str) else task["kind"])
    return used


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_an_architecture_has_a_schema_a_builder_its_input_kinds_and_a_recipe(name: str) -> None:
    entry = ARCHITECTURES.get(name)
    described(entry, "arch")
    build = entry.load()
    assert list(inspect.signature(build).parameters)[:2] == ["params", "info"]
    kinds = entry.params.input_kinds
    assert kinds and set(kinds) <= set(get_args(InputKind)), f"{name}: input_kinds {kinds}"
    assert name in bundled_uses()["arch"], f"no bundled recipe uses model.arch {name}"


@pytest.mark.parametrize("name", DATA_KINDS.names())
def test_a_data_kind_has_a_schema_a_builder_and_readers_of_new_data(name: str) -> None:
    entry = DATA_KINDS.get(name)
    described(entry, "kind")
    assert list(inspect.signature(entry.load()).parameters)[:2] == ["recipe", "fold"]
    readers = {part: entry.part(part) for part in ("read_rows", "read_path", "example_rows")}
    assert readers["read_rows"] or readers["read_path"], f"{name}: reads no new data"
    assert readers["example_rows"] is not None, f"{name}: no example_rows (the MLflow model's input example)"
    for task in entry.params.tasks:
        assert task in TASKS, f"{name}: tasks names an unknown task {task}"


@pytest.mark.parametrize("name", TASKS.names())
def test_a_task_has_a_module_metrics_with_directions_and_a_prediction_table(name: str) -> None:
    entry = TASKS.get(name)
    described(entry, "kind")
    module = entry.load()
    assert inspect.isclass(module) and issubclass(module, Task)
    params = entry.params
    assert params.fit_metrics and params.test_metrics
    for metric in (*params.fit_metrics, *params.test_metrics):
        assert metric in metric_names.UNSCORED or metric_names.direction(metric)
    if module.predicts:  # a generator predicts nothing and says so
        assert module.prediction_columns is not Task.prediction_columns, f"{name}: no prediction table"
    assert set(params.data_kinds) <= set(DATA_KINDS.names())
    assert set(params.architectures) <= set(ARCHITECTURES.names())
    assert name in bundled_uses()["task"], f"no bundled recipe trains task {name}"


def test_the_page_names_each_part_it_promises() -> None:
    for part in ("input_kinds", "read_rows", "read_path", "example_rows", "fit_metrics", "test_metrics",
                 "prediction_columns", "data_kinds", "architectures", "tests/test_registries.py"):  # fmt: skip
        assert part in PAGE, part
