"""`dlkit models`: every registered architecture with its parameters, types and defaults."""

from __future__ import annotations

from typing import Annotated

import typer


def models(
    name: Annotated[str | None, typer.Argument(help="Show only this architecture.")] = None,
) -> None:
    """List the architectures a recipe can use in model.arch, with their parameters."""
    from dlkit.cli.plain import list_models

    list_models(name)
