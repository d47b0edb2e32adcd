"""The one place where an error becomes a message on stderr and an exit code."""

from __future__ import annotations

import sys
from typing import NoReturn


def colour(stream: object) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org) or TERM=dumb."""
    import os

    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def fail(message: str, hint: str | None, code: int) -> NoReturn:
    """Print `error: ...` (and `hint: ...`) on stderr and exit with `code`."""
    from dlkit.cli.common import printable

    sys.stdout.flush()
    # a message quotes file names, columns and values as given: their control characters are shown, not sent
    error, tip = ("\x1b[1;31merror:\x1b[0m", "\x1b[33mhint:\x1b[0m") if colour(sys.stderr) else ("error:", "hint:")
    sys.stderr.write(f"{error} {printable(message)}\n" + (f"{tip} {printable(hint)}\n" if hint else ""))
    sys.stderr.flush()
    sys.exit(code)


def exit_for(error: BaseException, debug: bool = False) -> NoReturn:
    """End a command for `error`: a dlkit error as its message and exit code, Ctrl-C as 130, anything
    else as one `unexpected` line and 1; `debug` re-raises all but Ctrl-C, for the traceback."""
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
