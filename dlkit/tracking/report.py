"""What a comparison report shows, read back from the store: runs grouped into columns (a run, its
folds, runs that differ only by seed, a study's best trials), their differing parameters, best-epoch
and final metrics, learning curves, confusion matrices and test-split predictions, and a study's figures.

Rendering lives in `dlkit.report_page`; this module only reads.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from dlkit import metric_names as m
from dlkit.errors import BadInput
from dlkit.tracking.query import client_for, key_metric
from dlkit.tracking.report_data import Column, Report, RunData, StudyData, metric_rows

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
    metrics = metric_rows(columns, key)
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
        if name.startswith(("train/", "val/")) and not m.is_per_class(name):
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
