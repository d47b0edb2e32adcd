"""`dlkit recipes ls|show|validate|cp`: bundled recipes and recipe checking (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlkit.cli.catalog import RECIPES_COMMANDS, RECIPES_HELP
from dlkit.cli.common import OVERRIDES_HELP

app = typer.Typer(help=RECIPES_HELP, no_args_is_help=True)


@app.command("ls", short_help=RECIPES_COMMANDS["ls"])
def ls() -> None:
    """List the bundled recipes, one line each: the name and the first line of its description."""
    from dlkit.recipe.bundled import listing

    typer.echo(listing(), nl=False)


@app.command("show", short_help=RECIPES_COMMANDS["show"])
def show(
    recipe: Annotated[str, typer.Argument(help="A bundled recipe name or a path to a YAML file.")],
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP, show_default=False)] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Add each field's description as a comment.")] = False,
) -> None:
    """Print the resolved recipe: overrides applied, every default filled in."""
    from dlkit.recipe import load, resolve_path
    from dlkit.recipe.explain import render

    resolved = load(recipe, overrides or [])
    shown = recipe if Path(recipe).is_file() else resolve_path(recipe).stem
    header = f"# dlkit train {shown}" + (" " + " ".join(overrides) if overrides else "")
    typer.echo(render(resolved, explain=explain, header=header), nl=False)


@app.command("validate", short_help=RECIPES_COMMANDS["validate"])
def validate(
    paths: Annotated[list[str], typer.Argument(help="Recipe files (or bundled names) to check.")],
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="An override applied to each recipe (repeatable).")
    ] = None,
) -> None:
    """Check recipes against the schema; lists every problem, exits 2 if any recipe is invalid."""
    import sys

    from dlkit.errors import DlkitError, RecipeError
    from dlkit.recipe import load

    failed: list[str] = []
    for path in paths:
        try:
            load(path, overrides or [])
        except DlkitError as e:
            sys.stdout.flush()
            print(f"invalid: {e.listing if isinstance(e, RecipeError) else e.message}", file=sys.stderr, flush=True)
            failed.append(path)
        else:
            print(f"ok: {path}", flush=True)
    if failed:
        raise RecipeError(", ".join(failed), [f"{len(failed)} of {len(paths)} recipe(s) invalid: {', '.join(failed)}"])


@app.command("cp", short_help=RECIPES_COMMANDS["cp"])
def cp(
    name: Annotated[str, typer.Argument(help="Bundled recipe to copy.")],
    dest: Annotated[Path, typer.Argument(help="Destination file or folder.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Copy a bundled recipe to start your own experiment from it."""
    from dlkit.atomic import write_atomically
    from dlkit.errors import BadInput
    from dlkit.recipe import resolve_path

    source = resolve_path(name)
    target = dest / source.name if dest.is_dir() else dest
    if target.exists() and not force:
        raise BadInput(f"{target} already exists", hint="pass --force to overwrite it")
    text = source.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if first.startswith("# dlkit train"):
        text = f"# dlkit train {target}\n{rest}"
    write_atomically(target, text.encode("utf-8"), "DEST")
    typer.echo(f"copied {source.stem} to {target}")
