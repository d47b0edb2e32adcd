"""Outputs on a read-only file system: each command exits 2 naming the option, before any work, and leaves nothing
(predict and explain: tests/serving/test_run_lookup.py, beside a trained run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli

CORPUS = Path(__file__).parents[1] / "bad_inputs"


def refused(done: object, option: str) -> None:
    stderr = done.stderr  # type: ignore[attr-defined]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert done.returncode == 2, stderr  # type: ignore[attr-defined]
    assert lines[0].startswith(f"error: {option}") and "not writable" in lines[0], lines
    assert len(lines) <= 2 and "Traceback" not in stderr and "unexpected" not in stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["recipes", "cp", "iris-mlp", "{ro}/mine.yaml"], "DEST"),
        (["tune", "digits-cnn", "--storage", "{ro}/study.journal", "--trials", "1"], "--storage"),
        (["tune", "digits-cnn", "--storage", "{ro}/study.journal", "--trials", "1", "--jobs", "2"], "--storage"),
        (["tune", "digits-cnn", "--trials", "1", "--export", "{ro}/best.yaml"], "--export"),
        (["init", str(CORPUS / "table.csv"), "--target", "label", "-o", "{ro}/table.yaml"], "-o"),
    ],
    ids=["recipes-cp", "tune-storage", "tune-storage-two-jobs", "tune-export", "init-output"],
)
def test_a_read_only_destination_is_refused_cleanly(
    args: list[str], option: str, read_only_dir: Path, workdir: Path
) -> None:
    done = cli(*[a.format(ro=read_only_dir) for a in args], cwd=workdir)
    refused(done, option)
    assert [p.name for p in workdir.iterdir()] == [read_only_dir.name]  # no store, no run, no partial file
