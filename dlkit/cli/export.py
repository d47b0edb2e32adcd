"""`dlkit export RUN --format onnx|torchscript [-o DIR] [--quantize int8]`: a run as a standalone graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from dlkit.cli.predict import RUN_HELP, TRACKING_HELP
from dlkit.process import heavy_importing


def export(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    format: Annotated[
        Literal["onnx", "torchscript"], typer.Option("--format", "-f", help="onnx (run by onnxruntime) or torchscript.")
    ] = "onnx",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Folder to write (replaced when it holds an earlier export); default: export-<run id>-<format>.",
        ),
    ] = None,
    quantize: Annotated[
        Literal["int8"] | None,
        typer.Option(
            "--quantize",
            help="int8: also write model.int8.onnx (dynamic quantization) and report "
            "its size and test metric against the float graph.",
        ),
    ] = None,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="Log the export to the run (ONNX: as a logged model).")
    ] = True,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
) -> None:
    """Write the run's network, with the preprocessing a graph can hold, as one file that needs no dlkit.

    A table's imputation, scaling, piecewise bins and category layout, and the scaling of images, series
    and arrays, run inside the graph; preprocessing.json holds what stays outside (category lists, dates,
    vocabularies, image size) and MODEL_CARD.md the inputs, outputs, test metrics and data digest. The
    graph's outputs on the test split must equal PyTorch's within 1e-4, or nothing is written.
    """
    from dlkit.serving.export_card import CARD

    folder = output if output is not None else Path(f"export-{run[:12]}-{format}")
    with heavy_importing():
        from dlkit.serving.export import export as run_export

    done = run_export(run, format, folder, quantize=quantize, tracking_uri=tracking_uri, log_to_run=log, say=typer.echo)
    size = done.files[done.graph]
    typer.echo(f"exported {format} to {folder}/ ({size / 1024:.1f} KB graph, {CARD}, preprocessing.json)")
    typer.echo(f"  parity: {done.parity:.2g} largest difference from PyTorch on {done.rows} test rows (limit 1e-4)")
    q = done.quantized
    if q:
        line = f"  int8: {q['file']} {q['bytes'] / 1024:.1f} KB ({q['bytes'] / q['float_bytes']:.2f}x the float graph)"
        if "metric" in q:
            line += f"; test {q['metric']} {q['before']:.4f} -> {q['after']:.4f} ({q['after'] - q['before']:+.4f})"
        typer.echo(line)
    if done.logged_model and format == "onnx":
        typer.echo(f"  logged to run {run} as its model 'onnx' ({done.logged_model})")
    elif done.logged_model:
        typer.echo(f"  logged to run {run} as artifacts under {done.logged_model}/")
    for note in done.notes:
        typer.echo(f"  {note}")
