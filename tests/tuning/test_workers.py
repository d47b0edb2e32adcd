"""Studies shared by worker processes, and recovered after a worker is killed: real processes, real storages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from dlkit.tuning import liveness
from dlkit.tuning.study_setup import storage_for
from tests.conftest import run_cli

# about two seconds a trial on one thread: long enough to be killed in the middle of one
RECIPE = """\
name: iris-workers
task: classification
data: {kind: builtin, name: iris, batch_size: 4}
model: {arch: mlp, hidden: [16]}
trainer: {max_epochs: 30, monitor: val/acc, num_threads: 1}
tune:
  space:
    optim.lr: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
    model.dropout: {type: float, low: 0.0, high: 0.3}
  metric: val/acc
  pruner: none
"""


@pytest.fixture
def recipe(workdir: Path) -> Path:
    path = workdir / "iris-workers.yaml"
    path.write_text(RECIPE)
    return path


def _study(storage: str) -> optuna.Study:
    store, _ = storage_for(storage)
    return optuna.load_study(study_name="iris-workers", storage=store)


def _check_shared_study(storage: str, tracking_uri: str, budget: int) -> list[optuna.trial.FrozenTrial]:
    """Exactly `budget` finished trials, no trial left running, numbers unique, and an MLflow child run per trial."""
    trials = _study(storage).get_trials()
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert len([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]) == budget
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    ran = [t for t in trials if not t.system_attrs.get(liveness.SURPLUS)]

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert all(r.info.status != "RUNNING" for r in runs)
    assert all(c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children)
    by_trial = {int(c.data.tags["dlkit.trial"]): c for c in children}
    assert len(by_trial) == len(children) == len(ran)  # one child per trial that ran, none duplicated
    for t in ran:
        assert by_trial[t.number].data.tags["dlkit.trial_state"] == t.state.name
        assert by_trial[t.number].info.run_name == f"trial-{t.number:03d} ({t.state.name})"
        assert t.user_attrs["mlflow_run_id"] == by_trial[t.number].info.run_id  # optuna-dashboard shows it
    assert _study(storage).metric_names == ["val/acc"]
    return trials


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_a_killed_worker_trial_is_failed_and_retried(
    workdir: Path, tracking_uri: str, recipe: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """On a journal dlkit keeps the heartbeats and queues the retry; on PostgreSQL Optuna does both (its
    heartbeat_interval and RetryHeartbeatStaleTrialCallback), and the outcome is the same."""
    journal = str(workdir / "study.journal") if kind == "journal" else request.getfixturevalue("postgres")("killed")
    args = ["tune", str(recipe), "--trials", "3", "--storage", journal, "--tracking-uri", tracking_uri]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlkit", *args], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    study, found = None, None
    deadline = time.time() + 180
    while found is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            study = study or _study(journal)  # opened once: on PostgreSQL each opening costs a connection
        except KeyError:  # the study does not exist yet
            continue
        # a trial after the first, once its MLflow run exists, so that it dies with some epochs logged
        running = study.get_trials(states=(TrialState.RUNNING,))
        found = next((t for t in running if t.number >= 1 and liveness.MLFLOW_RUN in t.system_attrs), None)
    assert study is not None and found is not None, proc.communicate(timeout=300)[0]
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # the trial the kill left RUNNING (on a loaded machine the one found may have ended in the meantime)
    left = study.get_trials(states=(TrialState.RUNNING,))
    assert len(left) == 1 and liveness.MLFLOW_RUN in left[0].system_attrs, left
    victim = left[0]

    again = run_cli(*args, cwd=workdir)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"trial {victim.number}: its worker died; marked FAIL and queued again" in again.stdout
    trials = _check_shared_study(journal, tracking_uri, 3)
    dead = next(t for t in trials if t.number == victim.number)
    assert dead.state == TrialState.FAIL and "no heartbeat" in dead.system_attrs[liveness.FAIL_REASON]
    retries = [t for t in trials if liveness.retry_of(t) == victim.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE and retries[0].params == dead.params
    if kind == "postgresql":
        assert retries[0].system_attrs["failed_trial"] == victim.number  # Optuna's retry, not dlkit's
        from sqlalchemy import create_engine, text

        with create_engine(journal).connect() as connection:
            beats = connection.execute(text("SELECT trial_id FROM trial_heartbeats")).fetchall()
        assert len(beats) >= 3  # Optuna's heartbeat table: a row for every trial that ran
    killed_run = MlflowClient(tracking_uri).get_run(victim.system_attrs[liveness.MLFLOW_RUN])
    assert killed_run.info.status == "KILLED" and killed_run.data.tags["dlkit.trial_state"] == "FAIL"


def test_two_workers_share_one_study_on_the_embedded_storage(workdir: Path, tracking_uri: str, recipe: Path) -> None:
    journal = str(workdir / "study.journal")
    done = run_cli(
        "tune", str(recipe), "--trials", "4", "--jobs", "2", "--storage", journal, "--tracking-uri", tracking_uri,
        cwd=workdir,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    trials = _check_shared_study(journal, tracking_uri, 4)
    # both processes ran trials
    assert len({t.system_attrs[liveness.PID] for t in trials if t.state == TrialState.COMPLETE}) == 2
    assert "top 4 of 4 complete trials" in done.stdout
    # each worker samples a stream of its own: no trial repeats another's parameters
    drawn = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(drawn)) == len(drawn)

    # the documented way to continue a search, on a study that already holds its budget: returns at once
    again = run_cli(
        "tune", str(recipe), "--trials", "4", "--jobs", "2", "--storage", journal, "--tracking-uri", tracking_uri,
        cwd=workdir, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "4 of 4 trials done" in again.stdout
    assert len(_check_shared_study(journal, tracking_uri, 4)) == len(trials)


def test_two_workers_share_one_study_on_postgresql(
    workdir: Path, tracking_uri: str, recipe: Path, postgres: Callable[[str], str]
) -> None:
    url = postgres("study_two_workers")
    done = run_cli(
        "tune", str(recipe), "--trials", "5", "--jobs", "2", "--storage", url, "--tracking-uri", tracking_uri,
        cwd=workdir,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    trials = _check_shared_study(url, tracking_uri, 5)
    assert len({t.system_attrs[liveness.PID] for t in trials if t.state == TrialState.COMPLETE}) == 2
    listed = run_cli("studies", "--storage", url, cwd=workdir)
    assert listed.returncode == 0 and "iris-workers" in listed.stdout and "val/acc" in listed.stdout


def test_budget_is_exact_when_workers_claim_the_last_trial_together(workdir: Path, tracking_uri: str) -> None:
    """Two workers that ask for the last trial of the budget at once: one runs it, the other stops."""
    from dlkit.recipe import load_text

    recipe_obj = load_text(RECIPE)
    store, _ = storage_for(str(workdir / "s.journal"))
    study = optuna.create_study(study_name="iris-workers", storage=store, direction="maximize")
    for value in (0.5, 0.6):
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=value))
    first, second = study.ask(), study.ask()
    for t in (first, second):
        liveness.claim(study, t)
    from dlkit.tuning.trials import surplus as _surplus

    assert recipe_obj.tune is not None
    assert not _surplus(study, first, budget=3)
    assert _surplus(study, second, budget=3)


def test_dead_trials_are_found_by_process_and_by_heartbeat() -> None:
    now = time.time()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=60)

    def running(attrs: dict[str, object]) -> optuna.trial.FrozenTrial:
        return optuna.trial.create_trial(state=TrialState.RUNNING, params={}, distributions={}, system_attrs=attrs)

    import socket

    here = socket.gethostname()
    assert liveness.is_dead(running({liveness.HOST: here, liveness.PID: gone.pid, liveness.BEAT: now}), now)
    assert not liveness.is_dead(running({liveness.HOST: here, liveness.PID: os.getppid(), liveness.BEAT: now}), now)
    # another machine: only its heartbeat tells
    elsewhere = {liveness.HOST: "elsewhere", liveness.PID: 1}
    assert not liveness.is_dead(running({**elsewhere, liveness.BEAT: now - 5}), now)
    assert liveness.is_dead(running({**elsewhere, liveness.BEAT: now - liveness.GRACE_S - 1}), now)


def test_optuna_fails_a_trial_whose_heartbeat_stopped_and_queues_it_again(postgres: Callable[[str], str]) -> None:
    """A worker on another machine that stopped beating: Optuna's stale-trial check finds it on an RDB
    storage, and its callback queues the same parameters again; a trial still beating is left alone."""
    import warnings

    from optuna.distributions import FloatDistribution
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        store = RDBStorage(postgres("stale"), heartbeat_interval=1, grace_period=2,
                           heartbeat_stale_trial_callback=liveness.Stale())  # fmt: skip
    study = optuna.create_study(study_name="stale", storage=store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Optuna: heartbeats are meant for Study.optimize
        quiet, alive = study.ask({"x": FloatDistribution(0, 1)}), study.ask({"x": FloatDistribution(0, 1)})
    for trial in (quiet, alive):
        store.set_trial_system_attr(trial._trial_id, liveness.HOST, "another-machine")
        store.record_heartbeat(trial._trial_id)
    for _ in range(8):  # the live one beats on; the quiet one's last beat ages past the grace period
        time.sleep(0.5)
        store.record_heartbeat(alive._trial_id)
    assert liveness.recover_dead(study, None, lambda _: None) == [quiet.number]
    by_number = {t.number: t for t in study.get_trials()}
    assert by_number[quiet.number].state == TrialState.FAIL and by_number[alive.number].state == TrialState.RUNNING
    retry = next(t for t in by_number.values() if liveness.retry_of(t) == quiet.number)
    assert retry.state == TrialState.WAITING and retry.params == by_number[quiet.number].params
