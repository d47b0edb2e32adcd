"""`dlkit models`: every registered architecture with its parameters, types and defaults."""

from __future__ import annotations

from typing import Annotated

import typer


def models(
    name: Annotated[str | None, typer.Argument(help="Show only this architecture.")] = None,
) -> None:
    """List the architectures a recipe can use in model.arch, with their parameters."""
    from rich.markup import escape
    from rich.table import Table

    from dlkit.cli.common import console
    from dlkit.recipe.architectures import ARCHITECTURES
    from dlkit.recipe.explain import describe_fields

    entries = [ARCHITECTURES.get(name)] if name else list(ARCHITECTURES)
    out = console()
    for entry in entries:
        table = Table(title=escape(f"{entry.name}: {entry.summary}"), title_justify="left", expand=False)
        for column in ("parameter", "type", "default", "description"):
            table.add_column(column, overflow="fold")
        for field in describe_fields(entry.params):
            if field.name != "arch":
                table.add_row(*(escape(v) for v in (field.name, field.type, field.default, field.description)))
        out.print(table)
