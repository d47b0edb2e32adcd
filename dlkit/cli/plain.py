"""Command bodies that need no Typer, and the one way errors become messages and exit codes.

`dlkit recipes validate` and `dlkit models` read only the recipe schema: the front door
(`dlkit.cli.front`) runs them straight from here when their arguments are plain, without
importing Typer (which, with its pydantic-built parameter adapters, is most of their start-up);
the Typer commands call the same functions. Standard library only at import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


def fail(message: str, hint: str | None, code: int) -> NoReturn:
    """Print `error: ...` (and `hint: ...`) on stderr and exit with `code`."""
    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n" + (f"hint: {hint}\n" if hint else ""))
    sys.stderr.flush()
    sys.exit(code)


def exit_for(error: BaseException, debug: bool = False) -> NoReturn:
    """The one way an error ends a command (Typer's own usage errors aside): a dlkit error as its
    message and exit code, Ctrl-C as 130, anything else as one `unexpected` line and 1; `debug`
    re-raises all but Ctrl-C, for the traceback."""
    from dlkit.errors import DlkitError

    if isinstance(error, KeyboardInterrupt):
        fail("interrupted", None, 130)
    if debug:
        raise error
    if isinstance(error, DlkitError):
        fail(error.message, error.hint, error.exit_code)
    text = str(error).strip()
    fail(
        f"unexpected {type(error).__name__}: {text.splitlines()[0] if text else ''}",
        "rerun with --debug for the traceback, and report it",
        1,
    )


def guarded(command: Callable[[], None]) -> NoReturn:
    """Run a command as the Typer app would: errors as messages, exit 0 on success."""
    try:
        command()
    except (Exception, KeyboardInterrupt) as e:
        exit_for(e)
    sys.exit(0)


def validate_recipes(paths: list[str], overrides: list[str]) -> None:
    """Check each recipe (file or bundled name); `ok:` or `invalid:` per recipe, RecipeError if any failed."""
    from dlkit.errors import DlkitError, RecipeError
    from dlkit.recipe import load

    failed: list[str] = []
    for path in paths:
        try:
            load(path, overrides)
        except DlkitError as e:
            sys.stdout.flush()
            print(f"invalid: {e.message}", file=sys.stderr, flush=True)
            failed.append(path)
        else:
            print(f"ok: {path}", flush=True)
    if failed:
        raise RecipeError(", ".join(failed), [f"{len(failed)} of {len(paths)} recipe(s) invalid: {', '.join(failed)}"])


def list_models(name: str | None) -> None:
    """A table per architecture (or only `name`): its parameters, types, defaults and descriptions."""
    from rich.markup import escape
    from rich.table import Table

    from dlkit.cli.common import console
    from dlkit.models.params import ARCHITECTURES
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


def validate_args(args: list[str]) -> tuple[list[str], list[str]] | None:
    """`PATH... [--set KEY=VALUE]...` as click parses it; None for anything else (help, other options, `--`)."""
    paths: list[str] = []
    overrides: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--set":
            value = next(rest, None)
            if value is None:
                return None
            overrides.append(value)
        elif arg.startswith("--set="):
            overrides.append(arg.removeprefix("--set="))
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    return (paths, overrides) if paths else None


def command(args: list[str]) -> Callable[[], None] | None:
    """The plain command `args` asks for, or None when Typer must parse them."""
    if args[:2] == ["recipes", "validate"]:
        parsed = validate_args(args[2:])
        if parsed is not None:
            paths, overrides = parsed
            return lambda: validate_recipes(paths, overrides)
    elif args[:1] == ["models"] and (len(args) == 1 or (len(args) == 2 and not args[1].startswith("-"))):
        return lambda: list_models(args[1] if len(args) == 2 else None)
    return None
