"""The `dlkit` entry point: answers the instant commands itself, hands the rest to the Typer app.

`dlkit`, `dlkit --help`, `dlkit --version`, `dlkit recipes [--help]` and `dlkit recipes ls`
need nothing beyond the standard library, so they run without importing Typer (about 30 ms of
the 80 a Typer start costs). The help they print is laid out exactly as click lays out the
app's own help (same widths, wrapping and columns; a test compares the two), from the
summaries in `dlkit.cli.catalog` that the Typer app registers too. `dlkit recipes validate` and
`dlkit models` with plain arguments run from `dlkit.cli.plain`, without Typer either.
"""

from __future__ import annotations

import sys

from dlkit.cli import catalog

ROOT_OPTIONS = (("--debug", catalog.DEBUG_HELP), ("--version", catalog.VERSION_HELP), ("--help", catalog.HELP_HELP))


def _width() -> int:
    """click's help width: the terminal's columns (or $COLUMNS) up to 80, less 2, at least 50."""
    import shutil

    return max(min(shutil.get_terminal_size().columns, 80) - 2, 50)


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> str:
    import textwrap

    return textwrap.TextWrapper(width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False).fill(
        text
    )


def _definitions(rows: tuple[tuple[str, str], ...], width: int) -> list[str]:
    """click's `HelpFormatter.write_dl` at indent 2: terms padded to one column, text wrapped beside."""
    first_col = min(max(len(term) for term, _ in rows), 30) + 2
    text_width = max(width - first_col - 2, 10)
    lines = []
    for term, text in rows:
        head = f"  {term}"
        if len(term) <= first_col - 2:
            head += " " * (first_col - len(term))
        else:
            head += "\n" + " " * (first_col + 2)
        wrapped = _wrap(text, text_width).splitlines() or [""]
        lines.append(head + wrapped[0])
        lines.extend(" " * (first_col + 2) + line for line in wrapped[1:])
    return lines


def render_help(
    command: str,
    help_text: str,
    options: tuple[tuple[str, str], ...],
    commands: dict[str, str],
    width: int | None = None,
) -> str:
    """The help of a command group, as click formats it."""
    width = _width() if width is None else width
    prefix = f"Usage: {command} "  # click's usage line; at least 50 columns leave room for the rest
    lines = [_wrap("[OPTIONS] COMMAND [ARGS]...", width, prefix, " " * len(prefix))]
    lines += ["", _wrap(help_text, width, "  ", "  "), "", "Options:", *_definitions(options, width)]
    lines += ["", "Commands:", *_definitions(tuple(commands.items()), width)]
    return "\n".join(lines) + "\n"


def root_help(width: int | None = None) -> str:
    return render_help("dlkit", catalog.ROOT_HELP, ROOT_OPTIONS, catalog.COMMANDS, width)


def recipes_help(width: int | None = None) -> str:
    return render_help(
        "dlkit recipes", catalog.RECIPES_HELP, (("--help", catalog.HELP_HELP),), catalog.RECIPES_COMMANDS, width
    )


def _version() -> str:
    from dlkit import __version__

    return f"dlkit {__version__}\n"


def _recipes_ls() -> str:
    from dlkit.recipe.bundled import listing

    return listing()


INSTANT = {
    (): root_help,
    ("--help",): root_help,
    ("--version",): _version,
    ("recipes",): recipes_help,
    ("recipes", "--help"): recipes_help,
    ("recipes", "ls"): _recipes_ls,
}


class _QuickExit:
    """Skips the interpreter's teardown after a command that loaded torch.

    Once torch and Lightning are imported, Python's own teardown (modules, objects, C++ static
    state) takes 1 to 2.5 seconds after the command is done, paid by every `dlkit train` and by
    every tuning worker. Registered before anything else, this handler runs after every other
    exit handler (they run last-in, first-out, after Python has joined non-daemon threads), flushes
    the standard streams and ends the process with the command's exit code.
    """

    def __init__(self) -> None:
        self.code: int | None = None

    def __call__(self) -> None:
        if self.code is None or "torch" not in sys.modules:
            return
        import contextlib
        import os

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed or full stream: nothing more to save
                stream.flush()
        os._exit(self.code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `dlkit` script and `python -m dlkit`."""
    args = list(sys.argv[1:] if argv is None else argv)
    answer = INSTANT.get(tuple(args))
    if answer is None:
        from dlkit.cli import plain

        command = plain.command(args)
        if command is not None:  # reads recipes and the schema only: no Typer, no torch
            plain.guarded(command)
        import atexit

        from dlkit import process

        process.claim()  # this process is dlkit's own: its garbage collector is tuned for training
        quick = _QuickExit()
        atexit.register(quick)
        from dlkit.cli.app import main as run

        try:
            run(args)
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                quick.code = e.code or 0
            raise
        return
    try:
        sys.stdout.write(answer())
        sys.stdout.flush()
    except BrokenPipeError:  # `dlkit recipes ls | head -1`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(0)
    except OSError as e:
        sys.stderr.write(f"error: cannot write the output: {e.strerror or e}\n")
        sys.exit(1)
    sys.exit(0)
