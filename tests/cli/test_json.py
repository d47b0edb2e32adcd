"""Machine-readable listings: `runs ls --json` and `studies --json` print strict JSON that scripts can read."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.tuning.test_workers import RECIPE


def test_runs_and_studies_as_json(workdir: Path, tracking_uri: str) -> None:
    recipe = workdir / "iris-workers.yaml"
    recipe.write_text(RECIPE)
    journal = str(workdir / "study.journal")
    tuned = run_cli("tune", str(recipe), "--trials", "2", "trainer.max_epochs=2", "--storage", journal,
                    "--tracking-uri", tracking_uri, cwd=workdir, timeout=300)  # fmt: skip
    assert tuned.returncode == 0, tuned.stderr

    listed = run_cli("runs", "ls", "--json", "--tracking-uri", tracking_uri, cwd=workdir, timeout=120)
    assert listed.returncode == 0, listed.stderr
    (parent,) = json.loads(listed.stdout)
    assert parent["status"] == "FINISHED" and len(parent["children"]) == 2
    assert {c["parent"] for c in parent["children"]} == {parent["run_id"]}

    studies = run_cli("studies", "--json", "--storage", journal, cwd=workdir, timeout=120)
    assert studies.returncode == 0, studies.stderr
    (study,) = json.loads(studies.stdout)
    assert study["study"] == "iris-workers" and study["complete"] + study["pruned"] == 2
    assert study["metrics"] == ["val/acc"] and study["directions"] == ["maximize"]
