"""Listings: `runs ls --json`, `studies --json` and `compare --json` print strict JSON that scripts can read; the tables show
names from the store as text, never as terminal control sequences."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import cli
from tests.tuning.test_workers import RECIPE


def test_runs_and_studies_as_json(workdir: Path, tracking_uri: str) -> None:
    recipe = workdir / "iris-workers.yaml"
    recipe.write_text(RECIPE)
    journal = str(workdir / "study.journal")
    tuned = cli("tune", str(recipe), "--trials", "2", "trainer.max_epochs=2", "--storage", journal,
                    "--tracking-uri", tracking_uri, cwd=workdir)  # fmt: skip
    assert tuned.returncode == 0, tuned.stderr

    listed = cli("runs", "ls", "--json", "--tracking-uri", tracking_uri, cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    (parent,) = json.loads(listed.stdout)
    assert parent["status"] == "FINISHED" and len(parent["children"]) == 2
    assert {c["parent"] for c in parent["children"]} == {parent["run_id"]}

    studies = cli("studies", "--json", "--storage", journal, cwd=workdir)
    assert studies.returncode == 0, studies.stderr
    (study,) = json.loads(studies.stdout)
    assert study["study"] == "iris-workers" and study["complete"] + study["pruned"] == 2
    assert study["metrics"] == ["val/acc"] and study["directions"] == ["maximize"]

    trials = [c["run_id"] for c in parent["children"]]
    compared = cli("compare", *trials, "--json", "--tracking-uri", tracking_uri, cwd=workdir)
    assert compared.returncode == 0, compared.stderr
    report = json.loads(compared.stdout)
    assert [r["run_id"] for r in report["runs"]] == trials
    assert all(len(values) == 2 for values in report["metrics"].values())
    assert next(iter(report["metrics"])) == "test/acc"  # the key metric (of trainer.monitor val/acc) first

    # a run name holding escape sequences (clear the screen, red) is shown escaped, not sent to the terminal
    MlflowClient(tracking_uri).set_tag(parent["run_id"], "mlflow.runName", "evil\x1b[2J\x1b[31mred")
    table = cli("runs", "ls", "--tracking-uri", tracking_uri, cwd=workdir, env={"COLUMNS": "200"})
    assert table.returncode == 0 and "\x1b" not in table.stdout, table.stdout
    assert "evil\\x1b[2J\\x1b[31mred" in table.stdout


def test_numbers_read_as_people_write_them() -> None:
    from dlkit.numbers import number

    shown = [number(v) for v in (99370.0, 0.97345, 1.234e-5, 12345.678, None, 0.0, float("nan"), -2.5)]
    assert shown == ["99370", "0.9735", "1.23e-05", "12345.7", "", "0", "nan", "-2.5000"]


def test_the_sqlite_listing_matches_mlflows_own_and_loads_no_mlflow(tmp_path: Path) -> None:
    """`runs ls` reads a SQLite store directly (MLflow's import is most of its time): the same rows as
    through MLflow's client, nesting, names, key metrics and a deleted run included."""
    import dataclasses
    import subprocess
    import sys

    from benchmarks.listing import make_store
    from dlkit.tracking import query

    uri = make_store(tmp_path, runs=130)
    client = MlflowClient(uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "listing"]
    doomed = client.search_runs([experiment.experiment_id], max_results=1)[0].info.run_id
    client.delete_run(doomed)
    client.set_tag(
        client.search_runs([experiment.experiment_id], max_results=2)[1].info.run_id, "mlflow.runName", "renamed"
    )

    direct = query.list_runs(uri, None, 100)
    _, runs = query.sqlite_runs(Path(tmp_path / "mlflow.db"), None, 100) or ({}, [])
    assert len(runs) == 100 and doomed not in {r.info.run_id for r in runs}
    pair = [direct[0].run_id, direct[1].run_id]
    compared = query.compare(uri, pair)
    by_experiment = query.compare(uri, [], "listing")
    original = query.sqlite_runs
    try:
        query.sqlite_runs = lambda *_, **__: None  # type: ignore[assignment]
        through_mlflow = query.list_runs(uri, None, 100)
        compared_by_mlflow = query.compare(uri, pair)
        by_experiment_mlflow = query.compare(uri, [], "listing")
    finally:
        query.sqlite_runs = original
    assert [dataclasses.asdict(r) for r in direct] == [dataclasses.asdict(r) for r in through_mlflow]
    for ours, theirs in ((compared, compared_by_mlflow), (by_experiment, by_experiment_mlflow)):
        assert [r.info.run_id for r in ours.runs] == [r.info.run_id for r in theirs.runs]
        assert (ours.params, ours.metrics) == (theirs.params, theirs.metrics)
    assert len(compared.runs[0].data.params) == 51  # all of them read, not only trainer.monitor
    assert any(r.children for r in direct) and any(r.name == "renamed" for r in direct)
    assert query.list_runs(uri, "listing", 5) and len(query.list_runs(uri, "listing", 5)) <= 5

    probe = (
        "import sys; from dlkit.tracking.query import list_runs; list_runs(sys.argv[1]); print('mlflow' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", probe, uri], capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "False", loaded.stderr
