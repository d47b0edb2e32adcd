"""What a comparison report holds (runs grouped into columns, their figures as mean +- std), and the
metric rows computed from it: test values, validation at the best epoch, the last epoch, the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlkit import metric_names as m


@dataclass
class RunData:
    """One run and what the report draws from it."""

    run: Any
    #: per-epoch series (train/*, val/*): metric -> [(epoch, value)]
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    #: the test split's confusion matrix: class names and counts (true rows, predicted columns)
    confusion: tuple[list[str], list[list[int]]] | None = None
    #: test-split truth and class probabilities, for ROC and PR curves
    scores: tuple[list[str], Any, Any] | None = None

    @property
    def run_id(self) -> str:
        return str(self.run.info.run_id)

    @property
    def name(self) -> str:
        return str(self.run.info.run_name or self.run_id[:8])


@dataclass
class Column:
    """One column of the report: a run, or a group whose figures are given as mean +- std."""

    label: str
    #: what the members are: "run", "folds", "seeds" or "trial"
    kind: str
    members: list[RunData]
    #: the run the column is named after (a cross-validation parent, or the only member)
    head: Any


@dataclass
class Value:
    """A figure over a column's members: the mean, the spread when there are several, and how many."""

    mean: float
    std: float | None
    n: int


@dataclass
class MetricRow:
    name: str
    #: "test", "best epoch", "final epoch" or "model"
    stage: str
    direction: str | None
    values: list[Value | None]


@dataclass
class StudyData:
    name: str
    run: Any
    metric: str
    direction: str
    #: (title, PNG bytes)
    figures: list[tuple[str, bytes]]
    trials: Any  # pandas.DataFrame of trials.csv, or None


@dataclass
class Report:
    title: str
    tracking_uri: str
    columns: list[Column]
    #: parameters that differ between columns: key -> one text per column
    params: dict[str, list[str]]
    metrics: list[MetricRow]
    key_metric: str
    studies: list[StudyData]


def _value(values: list[float]) -> Value | None:
    import statistics

    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return Value(statistics.fmean(values), std, len(values))


def _direction(name: str) -> str | None:
    try:
        return m.direction(name)
    except KeyError:
        return None


def best_epoch(member: RunData) -> int | None:
    """The epoch whose checkpoint was kept: the best of the monitored validation metric."""
    monitor = member.run.data.params.get("trainer.monitor", m.VAL_LOSS)
    series = member.curves.get(monitor)
    direction = _direction(monitor)
    if not series or direction is None:
        return None
    pick = min if direction == "min" else max
    return pick(series, key=lambda p: p[1])[0]


def _at(series: list[tuple[int, float]], epoch: int) -> float | None:
    for step, value in series:
        if step == epoch:
            return value
    return None


def _summary_names(columns: list[Column]) -> list[str]:
    names = {
        n
        for c in columns
        for r in c.members
        for n in r.run.data.metrics
        if n.startswith("test/") and not m.is_per_class(n)
    }
    return sorted(names)


def _group_rows(columns: list[Column], names: list[str]) -> list[MetricRow]:
    """Each group's values, after the gaps between groups that sum them up."""
    rows = []
    for name in sorted(names, key=lambda n: (not n.startswith(m.GAP_PREFIX), n)):
        values = [_value([v for r in c.members if (v := r.run.data.metrics.get(name)) is not None]) for c in columns]
        rows.append(MetricRow(name, "by group", _direction(name), values))
    return rows


def metric_rows(columns: list[Column], key: str) -> list[MetricRow]:
    rows: list[MetricRow] = []
    names = _summary_names(columns)
    by_group = [n for n in names if m.is_by_group(n) or n.startswith(m.GAP_PREFIX)]
    tests = [n for n in names if n not in by_group]
    if key in tests:  # the number that sums the runs up comes first
        tests = [key, *(n for n in tests if n != key)]
    for name in tests:
        values = [_value([v for r in c.members if (v := r.run.data.metrics.get(name)) is not None]) for c in columns]
        rows.append(MetricRow(name, "test", _direction(name), values))
    rows += _group_rows(columns, by_group)
    epochs = [[best_epoch(r) for r in c.members] for c in columns]
    rows.append(
        MetricRow("best epoch", "best epoch", None, [_value([e for e in es if e is not None]) for es in epochs])
    )
    val_names = sorted({n for c in columns for r in c.members for n in r.curves if n.startswith("val/")})
    for name in val_names:
        best = []
        for c, es in zip(columns, epochs, strict=True):
            found = [_at(r.curves.get(name, []), e) for r, e in zip(c.members, es, strict=True) if e is not None]
            best.append(_value([v for v in found if v is not None]))
        rows.append(MetricRow(name, "best epoch", _direction(name), best))
    for name in [*val_names, *sorted({n for c in columns for r in c.members for n in r.curves} - set(val_names))]:
        if name in ("train/lr",):
            continue
        final = [_value([r.curves[name][-1][1] for r in c.members if r.curves.get(name)]) for c in columns]
        rows.append(MetricRow(name, "final epoch", _direction(name), final))
    for name in (*m.MODEL_METRICS, m.MODEL_TEMPERATURE):
        values = [_value([v for r in c.members if (v := r.run.data.metrics.get(name)) is not None]) for c in columns]
        if any(values):
            rows.append(MetricRow(name, "model", _direction(name), values))
    return rows
