"""`dlkit tune` on real studies: pruning, a budget kept across restarts, MLflow parent/child runs, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient

from dlkit.errors import RecipeError
from dlkit.recipe import load, load_text
from dlkit.training import run
from dlkit.tuning.study import tune

RECIPE = """\
name: iris-tune
task: classification
data: {kind: builtin, name: iris, batch_size: 16}
model: {arch: mlp, hidden: [16]}
trainer: {max_epochs: 6, monitor: val/acc}
tune:
  space:
    optim.lr: {type: categorical, choices: [0.02, 1.0e-7]}
    model.hidden: {type: categorical, choices: [[8], [16, 8]]}
  metric: val/acc
  sampler: grid
  pruner: median
  startup_trials: 1
  warmup_epochs: 0
"""


def quiet(_: str) -> None:
    pass


def test_budget_pruning_mlflow_and_export(workdir: Path, tracking_uri: str) -> None:
    recipe = load_text(RECIPE)
    journal = str(workdir / "study.journal")
    first = tune(recipe, trials=2, storage=journal, tracking_uri=tracking_uri, say=quiet)
    assert len(first.study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))) == 2
    export = workdir / "best.yaml"
    second = tune(recipe, trials=4, storage=journal, tracking_uri=tracking_uri, export=export, say=quiet)
    trials = second.study.get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 1  # a learning rate of 1e-7 never catches up
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(t.params["optim.lr"] == "1e-07" for t in pruned)

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_id == first.parent_run_id == second.parent_run_id
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["dlkit.sampler"] == "grid" and parent.data.tags["dlkit.metric"] == "val/acc"
    assert len(children) == 4 and all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    by_trial = {int(c.data.tags["dlkit.trial"]): c.data.tags["dlkit.trial_state"] for c in children}
    assert by_trial == {t.number: t.state.name for t in trials}
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"best-recipe.yaml", "optimization_history.png"} <= artifacts
    assert parent.data.metrics["best/val/acc"] == pytest.approx(second.best_value)

    # the exported recipe reproduces the best trial
    assert export.read_text().startswith(f"# dlkit train {export}")
    again = run(load(export), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert max(row["val/acc"] for row in again.history) == pytest.approx(second.best_value, abs=1e-6)


def test_the_best_trials_get_their_test_reports_when_the_study_ends(workdir: Path, tracking_uri: str) -> None:
    """The reports were most of a short trial's cost: trials record params, metrics and checkpoints, and
    at the study's end the tune.reports_top best get their reports, made from their own checkpoints."""
    import pandas as pd

    recipe = load_text(
        RECIPE,
        overrides=(
            "tune.sampler=random", "tune.pruner=none", "trainer.max_epochs=2", "tune.reports_top=2",
            "tune.space={optim.lr: {type: float, low: 1.0e-5, high: 1.0e-1, log: true}}",
        ),
    )  # fmt: skip
    journal = str(workdir / "study.journal")
    result = tune(recipe, trials=5, storage=journal, tracking_uri=tracking_uri, say=quiet)
    client = MlflowClient(tracking_uri)

    def trial_runs() -> dict[int, Any]:
        found = client.search_runs([e.experiment_id for e in client.search_experiments()], "tags.`dlkit.trial` != ''")
        return {int(r.data.tags["dlkit.trial"]): r for r in found}

    def reported(runs: dict[int, Any]) -> set[int]:
        return {
            n
            for n, r in runs.items()
            if "learning_curves.png" in {a.path for a in client.list_artifacts(r.info.run_id)}
        }

    trials = sorted(result.study.get_trials(), key=lambda t: (-t.value, t.number))
    runs = trial_runs()
    assert len(runs) == 5 and reported(runs) == {trials[0].number, trials[1].number}
    for trial in trials[:2]:
        run = runs[trial.number]
        assert run.info.status == "FINISHED" and run.data.tags["dlkit.reports"] == "yes"
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"predictions.csv", "confusion_matrix.png", "per_class_metrics.json"} <= names
        # made from the trial's own best checkpoint, on its own test split
        table = pd.read_csv(client.download_artifacts(run.info.run_id, "predictions.csv", str(workdir)))
        assert (table["true"] == table["predicted"]).mean() == pytest.approx(run.data.metrics["test/acc"], abs=1e-6)
    for trial in trials[2:]:
        assert "dlkit.reports" not in runs[trial.number].data.tags
        assert "val/acc" in runs[trial.number].data.metrics  # every trial keeps its metrics

    # a continued study tops up the new best; trials that have their reports keep them, written once
    more = tune(recipe, trials=8, storage=journal, tracking_uri=tracking_uri, say=quiet)
    best = sorted(more.study.get_trials(), key=lambda t: (-t.value, t.number))[:2]
    assert {t.number for t in best} <= reported(trial_runs())
    tables = client.load_table(experiment_id=runs[trials[0].number].info.experiment_id,
                               artifact_file="per_class_metrics.json", run_ids=[runs[trials[0].number].info.run_id])  # fmt: skip
    assert len(tables) == 3  # one row per class


def test_a_finished_budget_runs_no_more_trials(workdir: Path, tracking_uri: str) -> None:
    recipe = load_text(RECIPE, overrides=("tune.pruner=none",))
    journal = str(workdir / "study.journal")
    tune(recipe, trials=1, storage=journal, tracking_uri=tracking_uri, say=quiet)
    result = tune(recipe, trials=1, storage=journal, tracking_uri=tracking_uri, say=quiet)
    assert len(result.study.get_trials()) == 1


def test_a_restarted_study_draws_new_parameters(workdir: Path, tracking_uri: str) -> None:
    """A restart (or another worker) with the same tune.seed must not repeat the trials already run."""
    recipe = load_text(
        RECIPE,
        overrides=(
            "tune.sampler=random", "tune.pruner=none", "trainer.max_epochs=1",
            "tune.space={optim.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}}",
        ),
    )  # fmt: skip
    journal = str(workdir / "study.journal")
    tune(recipe, trials=2, storage=journal, tracking_uri=tracking_uri, say=quiet)
    result = tune(recipe, trials=4, storage=journal, tracking_uri=tracking_uri, say=quiet)
    drawn = [t.params["optim.lr"] for t in result.study.get_trials()]
    assert len(drawn) == 4 and len(set(drawn)) == 4
    # a fresh study with one process keeps tune.seed itself: the same first draw as before
    fresh = tune(recipe, trials=1, storage=str(workdir / "fresh.journal"), tracking_uri=tracking_uri, say=quiet)
    assert fresh.study.get_trials()[0].params["optim.lr"] == drawn[0]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tune.space={optim.lrr: {type: float, low: 0.1, high: 0.2, step: 0.1}}", "tune.space.optim.lrr"),
        ("tune.space={model.dropout: {type: float, low: 0.1, high: 2.0, step: 0.1}}", "value 2.0 is refused"),
        ("tune.metric=val/rmse", "tune.metric: 'val/rmse' is not logged by task classification"),
        ("tune.space={optim.lr: {type: float, low: 0.0, high: 0.1, log: true}}", "log: true needs low > 0"),
    ],
)
def test_search_spaces_are_checked_before_any_trial(override: str, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_text(RECIPE, overrides=(override,))
    assert message in str(info.value)


def test_cli_tune_without_a_tune_section_is_bad_input(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dlkit.cli.app import run as main

    with pytest.raises(SystemExit) as info:
        main(["tune", "iris-mlp"])
    assert info.value.code == 2
    assert "recipe iris-mlp: no tune section to search" in capsys.readouterr().err


MULTI = """\
name: iris-size
task: classification
data: {kind: builtin, name: iris, batch_size: 16}
model: {arch: mlp, hidden: [16]}
trainer: {max_epochs: 8, monitor: val/acc}
optim: {lr: 0.03}
tune:
  space:
    model.hidden: {type: categorical, choices: [[2], [4], [16], [64, 32], [128]]}
    optim.lr: {type: categorical, choices: [0.003, 0.03]}
  metrics: [val/acc, model/params]
  sampler: random
  seed: 3
"""


def _dominates(a: list[float], b: list[float]) -> bool:
    """a dominates b: accuracy (maximised) and parameters (minimised) no worse, one strictly better."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def test_multi_objective_pareto_front_and_pick(workdir: Path, tracking_uri: str) -> None:
    import csv

    recipe = load_text(MULTI)
    export = workdir / "small.yaml"
    result = tune(
        recipe,
        trials=8,
        storage=str(workdir / "s.journal"),
        tracking_uri=tracking_uri,
        export=export,
        pick="smallest-within:0.05",
        say=quiet,
    )
    complete = result.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 8  # no pruning in multi-objective searches

    client = MlflowClient(tracking_uri)
    parent = client.get_run(result.parent_run_id)
    folder = Path(client.download_artifacts(parent.info.run_id, "", str(workdir / "art")))
    assert (folder / "pareto_front.png").stat().st_size > 0
    with (folder / "pareto.csv").open() as f:
        front = [[float(row["val/acc"]), float(row["model/params"])] for row in csv.DictReader(f)]
    everyone = [list(t.values) for t in complete]
    assert front and all(not any(_dominates(other, member) for other in everyone) for member in front)
    # and every trial off the front is dominated by a member of it
    assert all(p in front or any(_dominates(m, p) for m in front) for p in everyone)

    # the pick: fewest parameters among trials within 0.05 of the best accuracy
    best_acc = max(v[0] for v in everyone)
    smallest = min(v[1] for v in everyone if v[0] >= best_acc - 0.05)
    assert result.best_values is not None and result.best_values[1] == smallest
    assert parent.data.metrics["best/model/params"] == smallest
    again = run(load(export), tracking_uri=tracking_uri, say=quiet, progress_bar=False)
    assert max(row["val/acc"] for row in again.history) == pytest.approx(result.best_values[0], abs=1e-6)

    # every run measures its size and its latency
    child = client.search_runs([parent.info.experiment_id], "tags.dlkit.trial = '0'")[0]
    assert child.data.metrics["model/params"] > 0 and child.data.metrics["model/latency_ms"] > 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tune.pruner=hyperband", "Optuna prunes single-objective searches only"),
        ("tune.sampler=cmaes", "the cmaes sampler is single-objective"),
        ("tune.metrics=[val/acc, val/rmse]", "tune.metrics[1]: 'val/rmse' is not logged"),
        ("tune.directions=[maximize]", "directions needs one entry per metric"),
        ("tune.metric=val/loss", "either metric (one objective) or metrics"),
    ],
)
def test_multi_objective_settings_are_checked(override: str, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_text(MULTI, overrides=(override,))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        ("smallest-within:0.01", "needs a multi-objective search"),
        ("largest", "use best or smallest-within:TOLERANCE"),
    ],
)
def test_bad_picks_are_refused_before_any_trial(workdir: Path, pick: str, message: str) -> None:
    from dlkit.errors import BadInput

    with pytest.raises(BadInput) as info:
        tune(load_text(RECIPE), pick=pick, storage=str(workdir / "s.journal"), say=quiet)
    assert message in info.value.message
    assert not (workdir / "s.journal").exists()


def test_studies_lists_counts_and_best(workdir: Path, tracking_uri: str) -> None:
    from tests.conftest import cli

    assert "no studies in" in cli("studies", cwd=workdir).stdout
    recipe = load_text(RECIPE, overrides=("tune.pruner=none",))
    result = tune(
        recipe, trials=2, storage=str(workdir / "optuna-studies.journal"), tracking_uri=tracking_uri, say=quiet
    )
    listed = cli("studies", cwd=workdir)
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if "iris-tune" in line)
    assert "val/acc (max)" in row and f"{result.best_value:.4f}" in row
    assert [cell.strip() for cell in row.split("│")][3:7] == ["2", "0", "0", "0"]
