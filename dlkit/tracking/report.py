"""What a comparison report shows, read back from the store: runs grouped into columns (a run, its
folds, runs that differ only by seed, a study's best trials), their differing parameters, best-epoch
and final metrics, learning curves, confusion matrices and test-split predictions, and a study's figures.

Rendering lives in `dlkit.report_page`; this module only reads.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlkit import metric_names as m
from dlkit.errors import BadInput
from dlkit.tracking.query import client_for, key_metric

#: parameters that change the draw, not the experiment: runs differing only here form one column
SEED_PARAMS = ("trainer.seed", "data.seed")
#: parameters that never tell two runs apart in a report
NOT_COMPARED = ("name", "description")
#: a study's figures, logged on its parent run by `dlkit tune`
STUDY_FIGURES = (
    ("optimization_history.png", "Optimisation history"),
    ("param_importances.png", "Parameter importances"),
    ("parallel_coordinate.png", "Parallel coordinates"),
    ("intermediate_values.png", "Intermediate values (pruning)"),
    ("pareto_front.png", "Pareto front"),
)


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


def build(tracking_uri: str, targets: list[str], experiment: str | None = None, top: int = 5) -> Report:
    """The report on `targets` (run ids or study names) or, without targets, on an experiment's top-level runs."""
    client = client_for(tracking_uri)
    runs, studies = _resolve(client, tracking_uri, targets, experiment, top)
    columns = _group([_column(client, run) for run in runs])
    if not columns:
        raise BadInput("report: nothing to report", hint="give run ids, a study name or --experiment NAME")
    for column in columns:
        for member in column.members:
            _read_member(client, member)
    key, _ = key_metric(columns[0].members[0].run)
    metrics = _metric_rows(columns, key)
    title = _title(columns, studies)
    return Report(title, tracking_uri, columns, _differing(columns), metrics, key, studies)


def _resolve(
    client: Any, uri: str, targets: list[str], experiment: str | None, top: int
) -> tuple[list[Any], list[StudyData]]:
    """Runs to compare and studies to show, in the order given."""
    from mlflow.exceptions import MlflowException

    from dlkit.tracking.query import experiments

    if not targets:
        ids = list(experiments(client, experiment))
        found = client.search_runs(ids, max_results=50, order_by=["attributes.start_time DESC"])
        runs = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
        if not runs:
            raise BadInput(f"--experiment {experiment}: no runs to report")
        targets = [r.info.run_id for r in runs]
    runs, studies = [], []
    for target in targets:
        try:
            run = client.get_run(target)
        except MlflowException:
            run = _study_run(client, target)
            if run is None:
                raise BadInput(
                    f"{target}: neither a run id nor a study name in {uri}",
                    hint="`dlkit runs ls` lists run ids, `dlkit studies` the studies",
                ) from None
        if "dlkit.study" in run.data.tags and "dlkit.trial" not in run.data.tags:
            study = _study(client, run)
            studies.append(study)
            runs.extend(_best_trials(client, run, study, top))
        else:
            runs.append(run)
    return runs, studies


def _study_run(client: Any, name: str) -> Any:
    """The newest parent run of the study called `name`, in any experiment."""
    ids = [e.experiment_id for e in client.search_experiments()]
    quoted = name.replace("'", "\\'")
    found = client.search_runs(
        ids, f"tags.`dlkit.study` = '{quoted}'", max_results=200, order_by=["attributes.start_time DESC"]
    )
    parents = [r for r in found if "dlkit.trial" not in r.data.tags]
    return parents[0] if parents else None


def _study(client: Any, run: Any) -> StudyData:
    import pandas as pd

    tags = run.data.tags
    metric = tags.get("dlkit.metric", "").split(", ")[0]
    direction = tags.get("dlkit.directions", "minimize").split(", ")[0]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, title in STUDY_FIGURES:
            if path in names:
                figures.append((title, Path(client.download_artifacts(run.info.run_id, path, tmp)).read_bytes()))
        trials = None
        if "trials.csv" in names:
            trials = pd.read_csv(client.download_artifacts(run.info.run_id, "trials.csv", tmp))
    return StudyData(tags.get("dlkit.study", ""), run, metric, direction, figures, trials)


def _best_trials(client: Any, parent: Any, study: StudyData, top: int) -> list[Any]:
    """The study's `top` best complete trial runs, best first."""
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=5000
    )
    done = [r for r in children if r.data.tags.get("dlkit.trial_state", "COMPLETE") == "COMPLETE"]
    sign = -1.0 if study.direction == "maximize" else 1.0
    unknown = float("inf")
    # the objective is the trial's value in the study (trials.csv), not the metric's last logged epoch
    objective: dict[str, float] = {}
    if study.trials is not None and study.metric in study.trials and "trial" in study.trials:
        pairs = zip(study.trials["trial"], study.trials[study.metric], strict=True)
        objective = {str(int(t)): float(v) for t, v in pairs}

    def value(run: Any) -> float:
        v = objective.get(run.data.tags.get("dlkit.trial", ""), run.data.metrics.get(study.metric))
        return sign * v if v is not None and v == v else unknown

    ranked = sorted(done, key=lambda r: (value(r), int(r.data.tags.get("dlkit.trial", "0"))))
    return ranked[:top]


def _children(client: Any, run: Any) -> list[Any]:
    found = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'", max_results=1000
    )
    return sorted(found, key=lambda r: r.info.run_name or "")


def _column(client: Any, run: Any) -> Column:
    tags = run.data.tags
    name = run.info.run_name or run.info.run_id[:8]
    if "dlkit.folds" in tags:
        folds = [RunData(r) for r in _children(client, run) if r.info.status == "FINISHED"]
        return Column(name, "folds", folds or [RunData(run)], run)
    return Column(name, "trial" if "dlkit.trial" in tags else "run", [RunData(run)], run)


def _identity(column: Column) -> tuple[tuple[str, str], ...]:
    params = column.head.data.params
    return tuple(sorted((k, v) for k, v in params.items() if k not in SEED_PARAMS and k not in NOT_COMPARED))


def _group(columns: list[Column]) -> list[Column]:
    """Single runs that differ only by seed become one column of seeds (when some other column differs)."""
    groups: dict[tuple[tuple[str, str], ...], list[Column]] = {}
    for column in columns:
        key = _identity(column) if column.kind == "run" else (("", column.head.info.run_id),)
        groups.setdefault(key, []).append(column)
    if len(groups) == 1 and len(columns) > 1 and columns[0].kind == "run":
        return columns  # every run is the same recipe but for the seed: compare them one by one
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        runs = [c.members[0] for c in members]
        plain = min(members, key=lambda c: len(c.label))
        # readable run names carry their overrides ("digits-mlp seed=1"): the group's name drops the seed
        label = " ".join(word for word in plain.label.split() if not word.startswith("seed=")) or plain.label
        out.append(Column(f"{label} ×{len(runs)} seeds", "seeds", runs, plain.head))
    return out


def _read_member(client: Any, member: RunData) -> None:
    """The member's learning curves, confusion matrix and test predictions."""
    import pandas as pd

    run_id = member.run_id
    for name in member.run.data.metrics:
        if name.startswith(("train/", "val/")) and name.count("/") == 1:
            history = client.get_metric_history(run_id, name)
            member.curves[name] = sorted((int(p.step), float(p.value)) for p in history)
    names = {a.path for a in client.list_artifacts(run_id)}
    with tempfile.TemporaryDirectory() as tmp:
        if "confusion_matrix.csv" in names:
            table = pd.read_csv(client.download_artifacts(run_id, "confusion_matrix.csv", tmp), index_col=0)
            member.confusion = ([str(c) for c in table.columns], table.to_numpy().astype(int).tolist())
        if "predictions.csv" in names and member.confusion is not None:
            frame = pd.read_csv(client.download_artifacts(run_id, "predictions.csv", tmp))
            classes = member.confusion[0]
            probs = [f"prob_{c}" for c in classes]
            if "true" in frame and all(p in frame for p in probs):
                member.scores = (classes, frame["true"].astype(str).to_numpy(), frame[probs].to_numpy(float))


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
        n for c in columns for r in c.members for n in r.run.data.metrics if n.startswith("test/") and n.count("/") == 1
    }
    return sorted(names)


def _metric_rows(columns: list[Column], key: str) -> list[MetricRow]:
    rows: list[MetricRow] = []
    tests = _summary_names(columns)
    if key in tests:  # the number that sums the runs up comes first
        tests = [key, *(n for n in tests if n != key)]
    for name in tests:
        values = [_value([v for r in c.members if (v := r.run.data.metrics.get(name)) is not None]) for c in columns]
        rows.append(MetricRow(name, "test", _direction(name), values))
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
    for name in m.MODEL_METRICS:
        values = [_value([v for r in c.members if (v := r.run.data.metrics.get(name)) is not None]) for c in columns]
        if any(values):
            rows.append(MetricRow(name, "model", _direction(name), values))
    return rows


def _differing(columns: list[Column]) -> dict[str, list[str]]:
    """Parameters whose value differs between columns (a seed group shows its seeds)."""

    def text(column: Column, key: str) -> str:
        seen = sorted({r.run.data.params.get(key, "") for r in column.members})
        return ", ".join(seen) if len(seen) > 1 else seen[0]

    keys = sorted({k for c in columns for r in c.members for k in r.run.data.params} - set(NOT_COMPARED))
    params = {k: [text(c, k) for c in columns] for k in keys}
    if len(columns) == 1:
        return {k: v for k, v in params.items() if "," in v[0] and k in SEED_PARAMS}
    return {k: v for k, v in params.items() if len(set(v)) > 1}


def _title(columns: list[Column], studies: list[StudyData]) -> str:
    if studies:
        return "study " + ", ".join(f"'{s.name}'" for s in studies)
    if len(columns) == 1:
        return columns[0].label
    return f"{len(columns)} runs compared"
