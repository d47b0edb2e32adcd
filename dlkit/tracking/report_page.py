"""A comparison report as one self-contained HTML page: styled, images inline, nothing fetched."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from dlkit.numbers import number
from dlkit.tracking.report_data import Column, MetricRow, Report, StudyData, Value
from dlkit.tracking.report_figures import confusions, curves, escape, img, roc_pr, swatch

CSS = """
:root { --ink: #1d2330; --muted: #5d6778; --line: #dde2ea; --soft: #f5f7fa; --best: #0a7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #fff; }
header { padding: 20px 32px 12px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: var(--muted); }
main { padding: 8px 32px 40px; max-width: 1500px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 14px 0 6px; }
p.note { color: var(--muted); margin: 4px 0 10px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; position: sticky; left: 0; background: #fff; }
thead th { border-bottom: 2px solid var(--ink); vertical-align: bottom; }
tbody tr:nth-child(even) td { background: var(--soft); }
tr.key td { font-weight: 600; }
tr.section td { background: #fff !important; color: var(--muted); font-size: 12px; text-transform: uppercase;
                letter-spacing: .04em; padding-top: 12px; }
td.best { color: var(--best); font-weight: 700; }
td.text { text-align: left; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
.sub { color: var(--muted); font-weight: 400; font-size: 12px; }
.pm { color: var(--muted); font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 22px; align-items: flex-start; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 2px; }
table.cm td, table.cm th { padding: 3px 7px; text-align: center; font-size: 12px; }
table.cm th:first-child, table.cm td:first-child { text-align: right; }
.study figure img { max-width: 640px; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; font-size: 12px; }
"""


def render(report: Report) -> str:
    """The whole page."""
    parts = [_header(report), *(_study(s) for s in report.studies), _runs(report), _params(report)]
    parts += [_metrics(report), curves(report), confusions(report), roc_pr(report)]
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.title)} · dlkit report</title><style>{CSS}</style></head>"
        f"<body>{body}</main></body></html>\n"
    )


def _header(report: Report) -> str:
    when = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")
    runs = sum(len(c.members) for c in report.columns)
    return (
        f"<header><h1>{escape(report.title)}</h1><p>{len(report.columns)} columns from {runs} runs · "
        f"store <code>{escape(report.tracking_uri)}</code> · written {when}</p></header><main>"
    )


def _head_row(report: Report, first: str) -> str:
    cells = "".join(
        f"<th>{swatch(i)}{escape(c.label)}<br><span class='sub'>{escape(_describe(c))}</span></th>"
        for i, c in enumerate(report.columns)
    )
    return f"<thead><tr><th>{escape(first)}</th>{cells}</tr></thead>"


def _describe(column: Column) -> str:
    if column.kind == "folds":
        return f"{len(column.members)} folds · {column.head.info.run_id[:8]}"
    if column.kind == "seeds":
        return f"{len(column.members)} seeds"
    return column.head.info.run_id[:8]


def _runs(report: Report) -> str:
    rows = []
    for label, get in (
        ("run id", lambda c: c.head.info.run_id),
        ("status", lambda c: c.head.info.status),
        ("recipe", lambda c: c.head.data.tags.get("dlkit.recipe", "")),
        ("what", _kind),
        ("model", lambda c: c.members[0].run.data.tags.get("dlkit.model", "")),
        ("duration", _duration),
    ):
        values = [get(c) for c in report.columns]
        if any(values):
            rows.append(
                f"<tr><td>{label}</td>" + "".join(f"<td class='text'>{escape(v)}</td>" for v in values) + "</tr>"
            )
    return (
        f"<h2>Runs</h2><div class='scroll'><table>{_head_row(report, '')}<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _kind(column: Column) -> str:
    if column.kind == "trial":
        tags = column.head.data.tags
        return f"study '{tags.get('dlkit.study', '')}', trial {tags.get('dlkit.trial', '')}"
    if column.kind == "folds":
        return f"{len(column.members)}-fold cross-validation"
    if column.kind == "seeds":
        return "seeds " + ", ".join(r.run.data.params.get("trainer.seed", "?") for r in column.members)
    return "training"


def _duration(column: Column) -> str:
    info = column.head.info
    if not info.end_time or not info.start_time:
        return ""
    seconds = (info.end_time - info.start_time) / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _params(report: Report) -> str:
    if not report.params:
        note = "every run has the same parameters" if len(report.columns) > 1 else ""
        return f"<h2>Parameters that differ</h2><p class='note'>{note or 'one column: nothing to set apart'}</p>"
    rows = "".join(
        f"<tr><td>{escape(k)}</td>"
        + "".join(f"<td class='text'>{escape(param_text(v))}</td>" for v in values)
        + "</tr>"
        for k, values in report.params.items()
    )
    return (
        f"<h2>Parameters that differ</h2><p class='note'>{len(report.params)} of the recipe's parameters</p>"
        f"<div class='scroll'><table>{_head_row(report, 'parameter')}<tbody>{rows}</tbody></table></div>"
    )


def param_text(value: str) -> str:
    """A parameter as logged, with floats drawn by a search cut to four significant digits."""
    try:
        number_ = float(value)
    except ValueError:
        return value
    if "." not in value and "e" not in value.lower():
        return value
    return f"{number_:.4g}"


def _cell(value: Value | None, best: bool) -> str:
    if value is None:
        return "<td></td>"
    spread = f" <span class='pm'>± {number(value.std)}</span>" if value.std is not None else ""
    return f"<td{' class=best' if best else ''}>{number(value.mean)}{spread}</td>"


def _best(row: MetricRow) -> set[int]:
    """The columns holding the row's best value (ties all count); none when every column agrees."""
    present = {i: v.mean for i, v in enumerate(row.values) if v is not None}
    if row.direction is None or len(present) < 2 or len(set(present.values())) == 1:
        return set()
    best = (min if row.direction == "min" else max)(present.values())
    return {i for i, v in present.items() if v == best}


SECTIONS = {
    "test": "test split",
    "by group": "test split by group (task.report_by, evaluate --by)",
    "best epoch": "validation at the best epoch (the checkpoint kept)",
    "final epoch": "last epoch",
    "model": "model",
}


def _metrics(report: Report) -> str:
    rows, stage = [], None
    width = len(report.columns) + 1
    for row in report.metrics:
        if row.stage != stage:
            stage = row.stage
            rows.append(f"<tr class='section'><td colspan='{width}'>{escape(SECTIONS[stage])}</td></tr>")
        best = _best(row)
        key = " class='key'" if row.name == report.key_metric and row.stage == "test" else ""
        label = row.name + ("" if row.direction is None else " ↓" if row.direction == "min" else " ↑")
        cells = "".join(_cell(v, i in best) for i, v in enumerate(row.values))
        rows.append(f"<tr{key}><td>{escape(label)}</td>{cells}</tr>")
    grouped = any(c.kind in ("folds", "seeds") for c in report.columns)
    note = "mean ± standard deviation over a column's folds or seeds; " if grouped else ""
    note += "the best value of a row in green (↓ lower is better, ↑ higher is better); epochs count from 1"
    return (
        f"<h2>Metrics</h2><p class='note'>{note}</p><div class='scroll'><table>{_head_row(report, 'metric')}"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _study(study: StudyData) -> str:
    figures = "".join(f"<figure>{img(data, title)}<figcaption>{escape(title)}</figcaption></figure>"
                      for title, data in study.figures)  # fmt: skip
    table = ""
    if study.trials is not None and len(study.trials):
        frame = study.trials
        if study.metric in frame:
            frame = frame.sort_values(study.metric, ascending=study.direction != "maximize", na_position="last")
        shown = frame.head(20)
        head = "".join(f"<th>{escape(c)}</th>" for c in shown.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>"
            for row in shown.itertuples(index=False)
        )
        more = f" (the best 20 of {len(frame)})" if len(frame) > 20 else ""
        table = f"<h3>Trials{more}</h3><div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    tags = study.run.data.tags
    facts = f"{study.metric} ({study.direction}) · sampler {tags.get('dlkit.sampler', '?')} · pruner {tags.get('dlkit.pruner', '?')}"
    return (
        f"<h2>Study '{escape(study.name)}'</h2><p class='note'>{escape(facts)} · parent run "
        f"<code>{escape(study.run.info.run_id)}</code>; the columns below are its best trials</p>"
        f"<div class='grid study'>{figures}</div>{table}"
    )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else number(value)
    return str(value)
