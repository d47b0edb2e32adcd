"""`dlkit tune` on real studies: pruning, a budget kept across restarts, MLflow parent/child runs, export."""

from __future__ import annotations

from pathlib import Path

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


def test_a_finished_budget_runs_no_more_trials(workdir: Path, tracking_uri: str) -> None:
    recipe = load_text(RECIPE, overrides=("tune.pruner=none",))
    journal = str(workdir / "study.journal")
    tune(recipe, trials=1, storage=journal, tracking_uri=tracking_uri, say=quiet)
    result = tune(recipe, trials=1, storage=journal, tracking_uri=tracking_uri, say=quiet)
    assert len(result.study.get_trials()) == 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tune.space={optim.lrr: {type: float, low: 0.1, high: 0.2}}", "tune.space.optim.lrr"),
        ("tune.space={model.dropout: {type: float, low: 0.1, high: 2.0}}", "value 2.0 is refused"),
        ("tune.metric=val/rmse", "tune.metric: 'val/rmse' is not logged by task classification"),
        ("tune.space={optim.lr: {type: float, low: 0.0, high: 0.1, log: true}}", "log: true needs low > 0"),
    ],
)
def test_search_spaces_are_checked_before_any_trial(override: str, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_text(RECIPE, overrides=(override,))
    assert message in str(info.value)


def test_cli_tune_without_a_tune_section_is_bad_input(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dlkit.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(["tune", "iris-mlp"])
    assert info.value.code == 2
    assert "recipe iris-mlp has no tune section" in capsys.readouterr().err
