"""What `dlkit tune` shows: study-wide progress while it runs, the top trials when it ends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from dlkit.numbers import clock
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
    """What a study shows while it runs, refreshed every few seconds: on a terminal a live table of the
    running and latest finished trials (state, value, time) under a line with the counts, the time
    left and the best so far; otherwise a line whenever the counts change."""

    def __init__(
        self, study: optuna.Study, budget: int, metrics: list[str], interactive: bool, say: Callable[[str], None]
    ) -> None:
        self.study, self.budget, self.metrics, self.say = study, budget, metrics, say
        self.last = ""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="dlkit-tune-progress", daemon=True)
        self.started = time.monotonic()
        self.live: Any = None
        if interactive:
            from rich.live import Live

            self.live = Live(refresh_per_second=2, transient=False)

    def refresh(self) -> None:
        try:
            c = counts(self.study)
            best = best_text(self.study, self.metrics)
            trials = [t for t in self.study.get_trials(deepcopy=False) if not t.system_attrs.get(liveness.SURPLUS)]
        except Exception:  # a storage hiccup: the next refresh tries again
            return
        text = f"{c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed, {c['running']} running; {best}"
        if self.live is not None:
            self.live.update(self._table(trials, c, best))
            return
        if text != self.last:
            self.last = text
            self.say(f"trials {c['complete'] + c['pruned']}/{self.budget}: {text}")

    def _table(self, trials: list[FrozenTrial], c: dict[str, int], best: str) -> Any:
        from rich.table import Table
        from rich.text import Text

        finished = c["complete"] + c["pruned"] + c["failed"]
        elapsed = time.monotonic() - self.started
        caption = f"trials {finished}/{self.budget} · {clock(elapsed)} elapsed"
        left = time_left(trials, self.budget, c["running"])
        if left is not None:
            caption += f" · about {clock(left)} left"
        table = Table(title=Text(f"{caption} · {best}"), title_justify="left", expand=False)
        used = 1
        for column in ("trial", "state", *self.metrics, "time"):  # whole, whatever the width: params give way
            width = max(len(column), 8 if column == "state" else 7 if column in self.metrics else 5)
            table.add_column(column, justify="left" if column == "state" else "right", no_wrap=True, min_width=width)
            used += width + 3
        room = max(10, self.live.console.width - used - 4)
        table.add_column("params", no_wrap=True, max_width=room)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        done = [t for t in trials if t.state.is_finished()][-max(3, 10 - len(running)) :]
        for t in sorted([*done, *running], key=lambda t: t.number):
            values = t.values if t.values is not None else []
            seconds = (
                t.duration.total_seconds()
                if t.duration
                else (time.time() - t.datetime_start.timestamp() if t.datetime_start else 0.0)
            )
            table.add_row(
                str(t.number),
                Text(t.state.name, style=STATE_STYLE.get(t.state.name, "")),
                *(f"{v:.4g}" for v in values),
                *([""] * (len(self.metrics) - len(values))),
                clock(seconds),
                Text(_cut(params_text(t.params), room)),
            )
        return table

    def _poll(self) -> None:
        while not self.stop.wait(2.0):
            self.refresh()

    def __enter__(self) -> Progress:
        if self.live is not None:
            self.live.start()
        self.refresh()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.refresh()
        if self.live is not None:
            self.live.stop()


STATE_STYLE = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan"}


def time_left(trials: list[FrozenTrial], budget: int, running: int) -> float | None:
    """The study's time left: the trials still to run at the mean duration of the finished ones, shared
    by the trials running at once."""
    durations = [t.duration.total_seconds() for t in trials if t.state.is_finished() and t.duration]
    if not durations:
        return None
    finished = sum(1 for t in trials if t.state.is_finished())
    remaining = max(0, budget - finished)
    return sum(durations) / len(durations) * remaining / max(1, running)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def params_text(params: dict[str, Any]) -> str:
    """Parameters as people write overrides: optim.lr=0.0036 model.hidden=[64,32]."""
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


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
            Text(params_text(t.params)),  # values are data, not markup
        )
    return table


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), separators=(",", ":"))
        except ValueError:
            return value
    return str(value)
