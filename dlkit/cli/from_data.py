"""`dlkit train FILE --target COL`, `dlkit tune FILE ...` and `dlkit init`: a recipe inferred from the data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dlkit.errors import BadInput

if TYPE_CHECKING:
    from dlkit.recipe.schema import Recipe

TARGET_HELP = (
    "With a data file: the column to predict, or several separated by commas (one network learns them all); "
    "the recipe is inferred from the data."
)
TIME_HELP = "With a data file: the time column(s) of a series to forecast, e.g. date or year,quarter."
TEXT_HELP = "With a data file: the column of free text to learn from (default: the longest text column)."
USER_HELP = "With a table of interactions: the column of users (with --item; --target, if given, is the rating)."
ITEM_HELP = "With a table of interactions: the column of items (with --user): a recommender is trained."


def is_data(argument: str | None) -> bool:
    from dlkit.data.infer import is_data_path

    return argument is not None and not argument.endswith((".yaml", ".yml")) and is_data_path(argument)


def render(draft: Any, path: str, relative_to: Path | None = None) -> str:
    """The inferred recipe as commented YAML (data.path relative to `relative_to` when given)."""
    from dlkit.yaml_io import commented

    recipe = draft.recipe
    if relative_to is not None:
        data_path = Path(recipe["data"]["path"])
        recipe = {**recipe, "data": {**recipe["data"], "path": os.path.relpath(data_path, relative_to)}}
    header = [f"dlkit train {'<this file>' if relative_to else path}", f"Inferred by dlkit init from {path}."]
    header += [f"  {line}" for line in draft.summary]
    header += [f"  note: {note}" for note in draft.notes]
    header += [f"  warning: {warning}" for warning in draft.warnings]
    return commented(recipe, draft.comments, header)


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise BadInput("--time: give one column or several separated by commas, e.g. year,quarter")
    return names


def findings(found: Any, say: Any) -> None:
    """The data summary, the notes on what dlkit chose or dropped, and the warnings, one line each."""
    for line in found.summary:
        say(f"data: {line}")
    for note in found.notes:
        say(f"note: {note}")
    for warning in found.warnings:
        say(f"warning: {warning}")


def _pair(user: str | None, item: str | None) -> tuple[str, str] | None:
    if (user is None) != (item is None):
        raise BadInput(
            f"{'--item' if item is None else '--user'}: a table of interactions needs both --user and --item"
        )
    return (user, item) if user is not None and item is not None else None


def inferred(
    path: str,
    target: str | None,
    time: str | None,
    text: str | None,
    overrides: list[str],
    say: Any,
    user: str | None = None,
    item: str | None = None,
) -> Recipe:
    """The recipe inferred from a data file, overrides applied; its data summary and notes are printed."""
    import yaml

    from dlkit.data.infer import draft
    from dlkit.recipe.loader import load_text

    split = _given(overrides, "data.split_column")
    dropped = _given(overrides, "data.drop")
    left_out = yaml.safe_load(dropped) if dropped else None
    left_out = [left_out] if isinstance(left_out, str) else left_out
    if not isinstance(left_out, list) or not all(isinstance(c, str) for c in left_out):
        left_out = None  # not a list of names: the recipe's validation names what is wrong with it
    found = draft(
        path, target, _columns(time), text, split=split or None, drop=left_out, interactions=_pair(user, item)
    )
    if found.recipe.get("data", {}).get("kind") == "csv" and left_out:
        # the inferred recipe's data.drop holds the user's columns and the ones dlkit drops: kept as it is
        overrides = [o for o in overrides if o.split("=", 1)[0].strip() != "data.drop"]
    recipe = load_text(render(found, path), source=f"{path} (inferred recipe)", overrides=overrides)
    findings(found, say)
    say(f"recipe: inferred from {path}; `dlkit init {path} ... -o my.yaml` writes it out for editing")
    return recipe


def _given(overrides: list[str], key: str) -> str | None:
    """The value of the last override of `key`, as written."""
    values = [o.split("=", 1)[1].strip() for o in overrides if "=" in o and o.split("=", 1)[0].strip() == key]
    return values[-1] if values else None


def refuse_data_options(target: str | None, time: str | None, text: str | None, *others: tuple[str, Any]) -> None:
    options = (("--target", target), ("--time", time), ("--text", text), *others)
    given = [name for name, value in options if value is not None]
    if given:
        raise BadInput(f"{given[0]} applies to a data file; with a recipe set data.target=... (or the field) instead")


def init(
    data: str,
    target: str | None,
    time: str | None,
    text: str | None,
    output: Path | None,
    force: bool,
    user: str | None = None,
    item: str | None = None,
) -> None:
    """Write (or print) the recipe inferred from a data file, checked against the schema first."""
    from dlkit.data.infer import draft
    from dlkit.recipe.loader import load_text

    if not is_data(data):
        raise BadInput(
            f"DATA: '{data}' is not a data file; give a table (.csv, .tsv, .parquet), an .npz, or a folder of images or sound clips"
        )
    found = draft(
        data, target, _columns(time), text, name=output.stem if output else None, interactions=_pair(user, item)
    )
    folder = output.resolve().parent if output else None
    content = render(found, data, folder)
    load_text(content, source=str(output or data), base_dir=folder)  # what dlkit train will read
    if output is None:
        typer.echo(content, nl=False)
        return
    if output.exists() and not force:
        raise BadInput(f"-o: {output} exists; pass --force to replace it")
    from dlkit.atomic import write_atomically

    write_atomically(output, content.encode(), "-o")
    findings(found, typer.echo)
    typer.echo(f"wrote {output}; train it with: dlkit train {output}")


def recipe_for(
    argument: str,
    overrides: list[str],
    target: str | None,
    time: str | None,
    text: str | None,
    user: str | None = None,
    item: str | None = None,
) -> Recipe:
    """The recipe a `dlkit train` or `dlkit tune` argument names, or the one inferred from a data file."""
    if is_data(argument):
        return inferred(argument, target, time, text, overrides, typer.echo, user, item)
    refuse_data_options(target, time, text, ("--user", user), ("--item", item))
    from dlkit.recipe import load

    return load(argument, overrides)
