"""The import layers of pyproject.toml hold, lint-imports fails when an import crosses them, and modules stay small."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the dlkit package under `root`, with the contracts of the project's pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "dlkit", tmp_path / "dlkit", ignore=shutil.ignore_patterns("__pycache__", "_recipes"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_project_keeps_its_contracts(copy: Path) -> None:
    done = lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "reported"),
    [
        # a data kind reaching up into training
        ("data/files.py", "from dlkit.training import run", "dlkit.data.files -> dlkit.training.run"),
        # the recipe layer reaching up into the tasks that use it
        ("recipe/loader.py", "import dlkit.tasks.base", "dlkit.recipe.loader -> dlkit.tasks.base"),
        # two modules of one package importing each other
        ("tracking/store.py", "from dlkit.tracking import query", ".store -> .query"),
    ],
)
def test_an_import_across_a_layer_or_in_a_circle_breaks_a_contract(
    copy: Path, module: str, line: str, reported: str
) -> None:
    path = copy / "dlkit" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = lint(copy)
    assert done.returncode == 1 and "0 broken" not in done.stdout, done.stdout + done.stderr
    assert reported in done.stdout


def test_no_module_is_over_300_lines() -> None:
    """Past 300 lines a module holds more than one job: split it by job."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "dlkit").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert long == {}, long
