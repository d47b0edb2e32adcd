"""Which worker owns a running trial, and recovery of trials whose worker died.

dlkit records the owner's host and process id when a trial starts: a RUNNING trial whose owner
on this host is gone is dead at once. Beyond that, a trial is dead when its heartbeat is older
than the grace period (a worker on another machine): on an RDB storage that is Optuna's own
heartbeat (`heartbeat_interval`, `fail_stale_trials`); the journal file storage has none, so
there dlkit refreshes a timestamp of its own. A dead trial is marked FAIL, its MLflow child run
is ended, and the same parameters are queued again so the study still reaches its budget: by
Optuna's `RetryHeartbeatStaleTrialCallback` on an RDB storage (the retry names the trial it repeats in
its `failed_trial` system attribute), by dlkit on a journal (the `dlkit:retry_of` user attribute).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

HEARTBEAT_S = 10.0
GRACE_S = 60.0

HOST = "dlkit:host"
PID = "dlkit:pid"
BEAT = "dlkit:heartbeat"
MLFLOW_RUN = "dlkit:mlflow_run_id"
RETRY_OF = "dlkit:retry_of"
SURPLUS = "dlkit:surplus"
FAIL_REASON = "dlkit:fail_reason"


def optuna_beats(storage: Any) -> bool:
    """Whether Optuna keeps the trials' heartbeats itself: an RDB storage opened with an interval."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None


def retry_of(trial: optuna.trial.FrozenTrial) -> int | None:
    """The number of the dead trial that `trial` repeats, whichever storage queued it."""
    number = trial.user_attrs.get(RETRY_OF)
    number = number if number is not None else trial.system_attrs.get("failed_trial")  # Optuna's retries
    return int(number) if number is not None else None


class Stale:
    """What Optuna calls for a trial it failed for want of a heartbeat, and what dlkit calls for one whose
    process it found gone, on RDB storages: Optuna's retry, then the trial's MLflow run ended."""

    def __init__(self) -> None:
        self.retry = RetryHeartbeatStaleTrialCallback()
        self.tracking_uri: str | None = None
        self.say: Any = lambda _: None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.retry(study, trial)
        run_id = trial.system_attrs.get(MLFLOW_RUN)
        if run_id and self.tracking_uri:
            _end_child_run(self.tracking_uri, str(run_id))
        self.say(f"trial {trial.number}: its worker died; marked FAIL and queued again")


def claim(study: optuna.Study, trial: optuna.Trial) -> None:
    """Record this process as the owner of `trial`."""
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, HOST, socket.gethostname())
    storage.set_trial_system_attr(trial._trial_id, PID, os.getpid())
    storage.set_trial_system_attr(trial._trial_id, BEAT, time.time())


class Heartbeat:
    """A thread that refreshes the trial's heartbeat until the trial ends: Optuna's on a storage that keeps
    them, dlkit's timestamp elsewhere."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial, interval: float = HEARTBEAT_S) -> None:
        self.storage: Any = study._storage
        self.trial_id = trial._trial_id
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="dlkit-heartbeat", daemon=True)

    def _beat(self) -> None:
        optuna_keeps = optuna_beats(self.storage)
        if optuna_keeps:
            self.storage.record_heartbeat(self.trial_id)
        while not self.stop.wait(self.interval):
            try:
                if optuna_keeps:
                    self.storage.record_heartbeat(self.trial_id)
                else:
                    self.storage.set_trial_system_attr(self.trial_id, BEAT, time.time())
            except Exception:  # the trial ended meanwhile, or the storage hiccuped: the next beat retries
                continue

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child (killed, not yet reaped by its parent) is dead too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def is_dead(trial: optuna.trial.FrozenTrial, now: float, grace: float = GRACE_S, by_beat: bool = True) -> bool:
    """Its owner on this host is gone, or (`by_beat`: dlkit's own heartbeat) its heartbeat is too old."""
    attrs = trial.system_attrs
    pid = attrs.get(PID)
    if attrs.get(HOST) == socket.gethostname() and isinstance(pid, int) and (pid == os.getpid() or not _alive(pid)):
        return True  # this process starts no trial before recovering, so one of its pid is a previous life
    if not by_beat:
        return False
    beat = attrs.get(BEAT)
    if beat is None:
        started = trial.datetime_start
        beat = started.timestamp() if started is not None else now
    return now - float(beat) > grace


def recover_dead(study: optuna.Study, tracking_uri: str | None, say: Any) -> list[int]:
    """Fail the RUNNING trials whose worker died, end their MLflow runs, and queue their parameters again."""
    storage = study._storage
    optuna_keeps = optuna_beats(storage)
    stale = getattr(storage, "get_heartbeat_stale_trial_callback", lambda: None)() if optuna_keeps else None
    recovered: list[int] = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_dead(trial, now, by_beat=not optuna_keeps):
            continue
        try:
            storage.set_trial_system_attr(trial._trial_id, FAIL_REASON, "its worker stopped (no heartbeat)")
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            continue  # another worker recovered it first
        recovered.append(trial.number)
        if stale is not None:
            stale(study, trial)
            continue
        study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number}, skip_if_exists=False)
        run_id = trial.system_attrs.get(MLFLOW_RUN)
        if run_id and tracking_uri:
            _end_child_run(tracking_uri, str(run_id))
        say(f"trial {trial.number}: its worker died; marked FAIL and queued again")
    if optuna_keeps:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # experimental since 2.9
            optuna.storages.fail_stale_trials(study)  # its callback (Stale) retries them and ends their runs
        recovered += sorted({t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))} - before)
    return recovered


def _end_child_run(tracking_uri: str, run_id: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        client.set_tag(run_id, "dlkit.trial_state", "FAIL")
        client.set_tag(run_id, "mlflow.runName", f"{client.get_run(run_id).info.run_name} (FAIL)")
        client.set_tag(run_id, "dlkit.failure", "worker_died")
        client.set_terminated(run_id, "KILLED")
    except Exception:  # a run that no longer exists: nothing left to end
        return
