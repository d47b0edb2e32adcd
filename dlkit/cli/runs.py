"""`dlkit runs ls` and `dlkit compare`: runs read back from the MLflow store, in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlkit.cli.catalog import RUNS_HELP
from dlkit.cli.predict import TRACKING_HELP

app = typer.Typer(help=RUNS_HELP, no_args_is_help=True)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


@app.command("ls")
def ls(
    experiment: Annotated[str | None, typer.Option("--experiment", help="Only this experiment.")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest runs to read.")] = 200,
    ids: Annotated[
        bool, typer.Option("--ids", help="Print only the top-level run ids, newest first (for scripts).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the runs as JSON (a list; folds and trials under `children`).")
    ] = False,
) -> None:
    """Runs, newest first, with status, recipe, key metric and duration; folds and trials under their parent."""
    from rich.table import Table

    from dlkit.cli.common import cell, console, to_json
    from dlkit.numbers import number
    from dlkit.tracking.query import list_runs
    from dlkit.tracking.store import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, None)
    rows = list_runs(uri, experiment, limit)
    if ids:
        for row in rows:
            typer.echo(row.run_id)
        return
    if as_json:
        import dataclasses

        typer.echo(to_json([dataclasses.asdict(row) for row in rows]))
        return
    if not rows:
        typer.echo(f"no runs in {uri}")
        return
    table = Table(title=cell(f"runs in {uri}"))
    for column in ("run id", "name", "experiment", "status", "recipe", "key metric", "value", "duration"):
        # the run id (32 characters, a child's indented) whole, whatever the width: people copy it; long
        # names give way, cut with an ellipsis
        table.add_column(
            column,
            justify="right" if column in ("value", "duration") else "left",
            no_wrap=True,
            min_width=32 + 4 if column == "run id" else None,
            max_width=32 if column == "name" else None,
        )

    def add(row: Any, depth: int) -> None:
        value = number(row.value)
        indent = "  " * depth + ("└ " if depth else "")
        table.add_row(
            indent + row.run_id, *(cell(v) for v in (row.name, row.experiment, row.status, row.recipe, row.metric)),
            value, _duration(row.seconds),
        )  # fmt: skip
        for child in row.children:
            add(child, depth + 1)

    for row in rows:
        add(row, 0)
    console().print(table)


def compare(
    run_ids: Annotated[list[str] | None, typer.Argument(help="Run ids to compare.", show_default=False)] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Compare the top-level runs of this experiment.")
    ] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Only this metric (and the bar chart's).")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Also write an HTML report (report.html) or a bar chart of the key metric (x.png)."
        ),
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the comparison as JSON: runs, differing params, metrics.")
    ] = False,
) -> None:
    """Runs side by side: the parameters that differ and the metrics, the task's key metric first.

    `-o report.html` writes the full comparison (`dlkit report`): learning curves, confusion
    matrices, ROC and PR curves, folds and seeds as mean +- std."""
    from rich.table import Table

    from dlkit.atomic import check_writable
    from dlkit.cli.common import cell, console, to_json
    from dlkit.errors import BadInput
    from dlkit.numbers import number
    from dlkit.tracking.query import compare as compare_runs
    from dlkit.tracking.store import resolve_tracking_uri

    if not run_ids and experiment is None:
        raise BadInput("compare needs run ids or --experiment NAME")
    if output is not None and output.suffix.lower() not in (".html", ".png"):
        raise BadInput(f"--output {output}: use a .html or .png file")
    if output is not None:
        check_writable(output, "--output")
    uri = resolve_tracking_uri(tracking_uri, None)
    result = compare_runs(uri, run_ids or [], experiment, metric)
    headers = [f"{r.info.run_name or ''}\n{r.info.run_id[:8]}" for r in result.runs]
    if as_json:  # instead of the table; an --output file is still written
        runs = [{"run_id": r.info.run_id, "name": r.info.run_name} for r in result.runs]
        typer.echo(to_json({"runs": runs, "params": result.params, "metrics": result.metrics}))
    else:
        table = Table(title=f"{len(result.runs)} runs")
        table.add_column("")
        for header in headers:
            table.add_column(cell(header), justify="right")
        for key, values in result.params.items():
            table.add_row(cell(key), *(cell(v) for v in values))
        if result.params:
            table.add_section()
        for key, numbers in result.metrics.items():
            table.add_row(cell(key), *(number(v) for v in numbers))
        console().print(table)
    if output is None:
        return
    if output.suffix.lower() == ".html":
        write_report(uri, [r.info.run_id for r in result.runs], None, output)
    else:
        _bars(output, result, headers, metric)
    if not as_json:
        typer.echo(f"written to {output}")


def write_report(uri: str, targets: list[str], experiment: str | None, output: Path, top: int = 5) -> None:
    """The HTML comparison report on `targets`, written whole or not at all."""
    from dlkit.atomic import write_atomically
    from dlkit.process import silence_libraries
    from dlkit.tracking import report, report_page

    silence_libraries()
    page = report_page.render(report.build(uri, targets, experiment, top))
    write_atomically(output, page.encode(), "--output")


def _bars(output: Path, result: Any, headers: list[str], metric: str | None) -> None:
    """A bar chart of the key metric (or --metric) across the runs."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlkit.atomic import write_atomically

    columns = [h.replace("\n", " ") for h in headers]
    name = metric or next(iter(result.metrics), None)  # the key metric comes first
    if name is None:
        from dlkit.errors import BadInput

        raise BadInput("--output: the runs share no metric to draw")
    values = [v if v is not None else 0.0 for v in result.metrics[name]]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(values)), 4))
    ax.bar(columns, values, color="tab:blue")
    ax.set(title=name, ylabel=name)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_atomically(output, buffer.getvalue(), "--output")


def report(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Run ids or study names (`dlkit runs ls`, `dlkit studies`).", show_default=False),
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Report on the top-level runs of this experiment.")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
    top: Annotated[int, typer.Option("--top", min=1, help="A study's best trials to compare.")] = 5,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
) -> None:
    """Write one self-contained HTML page comparing runs, a cross-validation or a study.

    Parameters that differ, test and best-epoch metrics side by side (mean +- std over folds or
    seeds), overlaid learning curves, confusion matrices, ROC and PR curves; for a study its
    optimisation history, parameter importances and parallel coordinates, and its best trials."""
    from dlkit.atomic import check_writable
    from dlkit.errors import BadInput
    from dlkit.tracking.store import resolve_tracking_uri

    if not targets and experiment is None:
        raise BadInput("report needs run ids, a study name or --experiment NAME")
    if output.suffix.lower() not in (".html", ".htm"):
        raise BadInput(f"--output {output}: the report is an .html file")
    check_writable(output, "--output")
    uri = resolve_tracking_uri(tracking_uri, None)
    write_report(uri, targets or [], experiment, output, top)
    typer.echo(f"report written to {output}")
