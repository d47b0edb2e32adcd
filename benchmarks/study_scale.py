"""A study of hundreds of trials: what dlkit costs per trial beyond the training the trial runs, and how
long the parent run's figures take at the end.

`dlkit tune breast-cancer-mlp --trials 200` with one-epoch trials, no pruning, one worker, as a user runs it.
The cost per trial is the trial phase (first trial's start to last trial's end, from the study) over
the trials, less the mean time of each trial's training epochs (its `perf/epoch_seconds`): sampling,
the data module, the model, the trial's MLflow run, its checkpoint, test pass and records. The end is
the time from the last trial's end to the command's exit: the test reports of the 5 best trials
(`tune.reports_top`), the study's figures on the parent run, the exported recipe. Targets: under 0.2 s a trial, under 10 s for the end.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, dlkit, print_table

TRIALS = 200
PER_TRIAL_TARGET, END_TARGET = 0.2, 10.0
OVERRIDES = ["trainer.max_epochs=1", "trainer.early_stopping=null", "tune.pruner=none"]


def run_study(trials: int) -> tuple[float, float, float, int]:
    """(seconds of the trial phase, seconds of all the trials' training epochs, seconds after the last trial,
    trials that wrote their test reports)."""
    import optuna
    from mlflow import MlflowClient
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        subprocess.run(
            [*dlkit(), "tune", "breast-cancer-mlp", *OVERRIDES, "--trials", str(trials), "--storage",
             str(folder / "s.journal"), "--tracking-uri", uri, "--no-progress"],
            cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600,
        )  # fmt: skip
        ended = time.time()
        storage = JournalStorage(JournalFileBackend(str(folder / "s.journal")))
        done = optuna.load_study(study_name="breast-cancer-mlp", storage=storage).trials
        first = min(t.datetime_start.timestamp() for t in done if t.datetime_start)
        last = max(t.datetime_complete.timestamp() for t in done if t.datetime_complete)
        client = MlflowClient(uri)
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=5000)
        training = sum(r.data.metrics.get("perf/epoch_seconds", 0.0) for r in runs)
        reported = sum(r.data.tags.get("dlkit.reports") == "yes" for r in runs if "dlkit.trial" in r.data.tags)
        return last - first, training, ended - last, reported


def measure(trials: int = TRIALS) -> list[Row]:
    phase, training, end, reported = run_study(trials)
    own = (phase - training) / trials
    return [
        Row(f"tuning: dlkit's own cost per trial, {trials} one-epoch breast-cancer-mlp trials ({reported} with reports)",
            f"{own:.3f} s", f"{training / trials:.3f} s of training", f"{own / (training / trials):.2f}x",
            f"< {PER_TRIAL_TARGET} s", own < PER_TRIAL_TARGET),
        Row(f"tuning: the study's end after {trials} trials (best trials' reports, figures, export)", f"{end:.1f} s", "", "",
            f"< {END_TARGET:.0f} s", end < END_TARGET),
    ]  # fmt: skip


if __name__ == "__main__":
    print_table(measure())
