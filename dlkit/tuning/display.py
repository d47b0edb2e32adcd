"""What `dlkit tune` shows: study-wide progress while it runs, the top trials when it ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import TrialState

from dlkit.tuning import liveness


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state (surplus trials, which never ran, are left out)."""
    out = {"complete": 0, "pruned": 0, "failed": 0, "running": 0}
    names = {
        TrialState.COMPLETE: "complete",
        TrialState.PRUNED: "pruned",
        TrialState.FAIL: "failed",
        TrialState.RUNNING: "running",
    }
    for t in study.get_trials(deepcopy=False):
        if t.state in names and not t.system_attrs.get(liveness.SURPLUS):
            out[names[t.state]] += 1
    return out


def best_text(study: optuna.Study, metrics: list[str], short: bool = False) -> str:
    try:
        if len(study.directions) == 1:
            best = study.best_trial
            return (
                f"{best.value:.4f} (trial {best.number})"
                if short
                else f"best {metrics[0]} {best.value:.4f} (trial {best.number})"
            )
        return f"Pareto front of {len(study.best_trials)}"
    except ValueError:
        return "-" if short else "no complete trial yet"


class Progress:
    """Study-wide counts: a rich bar on a terminal, a line per change otherwise; refreshed every few seconds."""

    def __init__(
        self, study: optuna.Study, budget: int, metrics: list[str], interactive: bool, say: Callable[[str], None]
    ) -> None:
        self.study, self.budget, self.metrics, self.say = study, budget, metrics, say
        self.last = ""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="dlkit-tune-progress", daemon=True)
        self.bar: Any = None
        if interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
            )
            self.task = self.bar.add_task("", total=budget)

    def refresh(self) -> None:
        try:
            c = counts(self.study)
            best = best_text(self.study, self.metrics)
        except Exception:  # a storage hiccup: the next refresh tries again
            return
        text = f"{c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed, {c['running']} running; {best}"
        if text == self.last:
            return
        self.last = text
        if self.bar is not None:
            self.bar.update(self.task, completed=c["complete"] + c["pruned"], description=text)
        else:
            self.say(f"trials {c['complete'] + c['pruned']}/{self.budget}: {text}")

    def _poll(self) -> None:
        while not self.stop.wait(2.0):
            self.refresh()

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        self.refresh()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.refresh()
        if self.bar is not None:
            self.bar.stop()


def top_trials_table(study: optuna.Study, metrics: list[str], directions: list[str], limit: int = 10) -> Any:
    """The best complete trials (or the Pareto front) as a rich table."""
    from rich.table import Table
    from rich.text import Text

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(metrics) == 1:
        sign = -1.0 if directions[0] == "maximize" else 1.0
        rows = sorted(complete, key=lambda t: sign * float(t.values[0]))[:limit]
        title = f"top {len(rows)} of {len(complete)} complete trials"
    else:
        rows = sorted(study.best_trials, key=lambda t: (-1.0 if directions[0] == "maximize" else 1.0) * t.values[0])
        title = f"Pareto front: {len(rows)} of {len(complete)} complete trials"
    table = Table(title=title)
    table.add_column("trial", justify="right")
    for metric in metrics:
        table.add_column(metric, justify="right")
    table.add_column("duration", justify="right")
    table.add_column("params")
    for t in rows:
        seconds = t.duration.total_seconds() if t.duration else 0.0
        table.add_row(
            str(t.number),
            *(f"{v:.4g}" for v in t.values),
            f"{seconds:.1f}s",
            Text(", ".join(f"{k}={_short(v)}" for k, v in t.params.items())),  # values are data, not markup
        )
    return table


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), separators=(",", ":"))
        except ValueError:
            return value
    return str(value)
