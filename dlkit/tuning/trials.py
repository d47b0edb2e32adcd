"""The worker loop: claim a trial, train it as a child run, tell the study how it ended, until the budget is held."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightning as L
import optuna
from lightning.pytorch.callbacks import Callback
from optuna.trial import TrialState

from dlkit.errors import DlkitError, Interrupted, TrainingFailed
from dlkit.recipe.schema import Recipe
from dlkit.recipe.search_space import TuneConfig
from dlkit.training.run import Nested, run
from dlkit.tuning import display, liveness
from dlkit.tuning.selection import objective_values
from dlkit.tuning.space import suggest, with_values

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class PruningReporter(Callback):
    """Reports the monitored validation metric to the trial every epoch; a pruned trial stops at once."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial = trial
        self.metric = metric

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.metric not in trainer.callback_metrics:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(trainer.callback_metrics[self.metric]), epoch + 1)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")


@dataclass
class Session:
    """What every trial of one worker shares."""

    study: optuna.Study
    cfg: TuneConfig
    recipe: Recipe
    budget: int
    deadline: float | None
    parent_run_id: str
    tracking_uri: str
    experiment: str
    name: str
    say: Callable[[str], None]


def work(s: Session) -> None:
    """Claim and run trials until the study holds its budget (complete + pruned) or time runs out."""
    failures_in_a_row = 0
    while True:
        liveness.recover_dead(s.study, s.tracking_uri, s.say)
        if s.deadline is not None and time.time() >= s.deadline:
            return
        finished = len(s.study.get_trials(deepcopy=False, states=FINISHED))
        running = len(s.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if finished + running >= s.budget:
            return
        with warnings.catch_warnings():
            # Optuna beats for trials run by Study.optimize; dlkit's Heartbeat beats for these (liveness)
            warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used with Study.optimize")
            trial = s.study.ask()
        liveness.claim(s.study, trial)
        if surplus(s.study, trial, s.budget):
            # another worker claimed the last trial of the budget at the same instant
            s.study._storage.set_trial_system_attr(trial._trial_id, liveness.SURPLUS, True)
            s.study.tell(trial, state=TrialState.FAIL)
            return
        state, reason = _run_trial(s, trial)
        if state == "EXHAUSTED":
            s.say("the grid is exhausted: every combination has been tried")
            return
        failures_in_a_row = failures_in_a_row + 1 if state == "FAIL" else 0
        if failures_in_a_row >= 3:
            raise TrainingFailed(f"3 trials in a row failed; the last one: {reason}")


def surplus(study: optuna.Study, trial: optuna.Trial, budget: int) -> bool:
    ahead = [
        t
        for t in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
        if t.number < trial.number and not t.system_attrs.get(liveness.SURPLUS)
    ]
    return len(ahead) >= budget


def trial_name(number: int) -> str:
    """A trial's MLflow run name: `trial-006`, sorted as numbers in the runs table; its state joins it at the end."""
    return f"trial-{number:03d}"


def _record_run(storage: Any, trial: optuna.Trial, run_id: str) -> None:
    """The trial's MLflow run: for liveness (a system attribute) and for people (a user attribute, shown by
    optuna-dashboard and `study.trials_dataframe()`)."""
    storage.set_trial_system_attr(trial._trial_id, liveness.MLFLOW_RUN, run_id)
    trial.set_user_attr("mlflow_run_id", run_id)


def _run_trial(s: Session, trial: optuna.Trial) -> tuple[str, str]:
    """Train one trial and tell the study how it ended: (state, failure reason)."""
    cfg = s.cfg
    storage = s.study._storage
    # single-objective trials report every epoch (the intermediate values figure; pruning when a pruner is set)
    callbacks = [] if cfg.multi else [PruningReporter(trial, cfg.objectives[0][0])]
    nested = Nested(
        s.parent_run_id,
        trial_name(trial.number),
        {"dlkit.trial": str(trial.number), "dlkit.study": s.name},
        callbacks=callbacks,
        stop_on=(optuna.TrialPruned,),
        on_created=lambda run_id: _record_run(storage, trial, run_id),
        reports=cfg.reports_top is None,  # else the study's best trials get theirs at its end
    )
    state, reason, scores, interrupted = "FAIL", "", None, False
    values: dict[str, Any] = {}
    with liveness.Heartbeat(s.study, trial):
        try:
            values = suggest(trial, cfg)
            result = run(
                with_values(s.recipe, values),
                tracking_uri=s.tracking_uri,
                experiment=s.experiment,
                say=lambda _: None,
                progress_bar=False,
                nested=nested,
            )
            scores = objective_values(result, cfg)
            state = "COMPLETE"
        except optuna.TrialPruned as e:
            state, reason = "PRUNED", str(e)
        except (Interrupted, KeyboardInterrupt):
            interrupted, reason = True, "interrupted"
        except DlkitError as e:
            reason = e.message
    if state == "COMPLETE":
        more = _tell(s.study, trial, values=scores)
    elif state == "PRUNED":
        more = _tell(s.study, trial, state=TrialState.PRUNED)
    else:
        storage.set_trial_system_attr(trial._trial_id, liveness.FAIL_REASON, reason[:1000])
        more = _tell(s.study, trial, state=TrialState.FAIL)
    if nested.run_id:
        from mlflow import MlflowClient

        client = MlflowClient(s.tracking_uri)
        client.set_tag(nested.run_id, "dlkit.trial_state", state)
        # the runs table shows names, not tags: a pruned trial reads as such beside a complete one
        client.set_tag(nested.run_id, "mlflow.runName", f"{trial_name(trial.number)} ({state})")
    shown = ", ".join(f"{m} {v:.4g}" for (m, _), v in zip(cfg.objectives, scores, strict=True)) if scores else reason
    s.say(f"trial {trial.number}: {state}  {shown}  {display.params_text(values)}")
    if interrupted:
        s.study.enqueue_trial(trial.params, user_attrs={liveness.RETRY_OF: trial.number}, skip_if_exists=False)
        raise Interrupted("interrupted; run the same command again to continue the study")
    return state if more else "EXHAUSTED", reason


def _tell(study: optuna.Study, trial: optuna.Trial, **outcome: Any) -> bool:
    """Record the trial's outcome; False when the sampler has nothing left to try (a finished grid)."""
    try:
        study.tell(trial, **outcome)
    except RuntimeError as e:
        # the grid sampler stops the study from `after_trial`, which Optuna allows inside optimize() only;
        # the outcome is stored either way
        if "Study.stop" not in str(e):
            raise
        return False
    return True
