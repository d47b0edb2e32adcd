"""`dlkit init FILE_OR_FOLDER --target COL [-o my.yaml]`: the recipe dlkit infers from the data, written out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlkit.cli.from_data import ITEM_HELP, TARGET_HELP, TEXT_HELP, TIME_HELP, USER_HELP


def init(
    data: Annotated[
        str,
        typer.Argument(help="A CSV, TSV or Parquet file, an .npz, or a folder of images (one subfolder per class)."),
    ],
    target: Annotated[str | None, typer.Option("--target", help=TARGET_HELP)] = None,
    time: Annotated[str | None, typer.Option("--time", help=TIME_HELP)] = None,
    text: Annotated[str | None, typer.Option("--text", help=TEXT_HELP)] = None,
    user: Annotated[str | None, typer.Option("--user", help=USER_HELP)] = None,
    item: Annotated[str | None, typer.Option("--item", help=ITEM_HELP)] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the recipe here (default: print it).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
) -> None:
    """Infer a recipe from the data (kind, task, column roles, model size, epochs, a tune section) and write it,
    every choice commented: the recipe that `dlkit train FILE --target COL` trains."""
    from dlkit.cli.from_data import init as write_recipe

    write_recipe(data, target, time, text, output, force, user, item)
