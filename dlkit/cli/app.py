"""The Typer app, and the one place where errors become messages and exit codes.

Exit codes: 0 success, 1 a run that failed, 2 bad input (recipe, overrides,
files, arguments), 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dlkit import __version__, process
from dlkit.cli import catalog
from dlkit.cli import evaluate as evaluate_cmd
from dlkit.cli import explain as explain_cmd
from dlkit.cli import export as export_cmd
from dlkit.cli import init as init_cmd
from dlkit.cli import models as models_cmd
from dlkit.cli import predict as predict_cmd
from dlkit.cli import recipes as recipes_cmd
from dlkit.cli import runs as runs_cmd
from dlkit.cli import train as train_cmd
from dlkit.cli import tune as tune_cmd
from dlkit.cli import ui as ui_cmd
from dlkit.cli.messages import exit_for, fail

app = typer.Typer(
    name="dlkit",
    help=catalog.ROOT_HELP,
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help=catalog.DEBUG_HELP)] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help=catalog.VERSION_HELP)
    ] = False,
) -> None:
    """Options for every command; the help the app shows is catalog.ROOT_HELP."""


app.command("train", context_settings={"allow_extra_args": False}, short_help=catalog.COMMANDS["train"])(
    train_cmd.train
)
app.command("init", short_help=catalog.COMMANDS["init"])(init_cmd.init)
app.command("tune", short_help=catalog.COMMANDS["tune"])(tune_cmd.tune)
app.command("studies", short_help=catalog.COMMANDS["studies"])(tune_cmd.studies)
app.command("evaluate", short_help=catalog.COMMANDS["evaluate"])(evaluate_cmd.evaluate)
app.command("predict", short_help=catalog.COMMANDS["predict"])(predict_cmd.predict)
app.command("export", short_help=catalog.COMMANDS["export"])(export_cmd.export)
app.command("explain", short_help=catalog.COMMANDS["explain"])(explain_cmd.explain)
app.command("models", short_help=catalog.COMMANDS["models"])(models_cmd.models)
app.add_typer(recipes_cmd.app, name="recipes", short_help=catalog.COMMANDS["recipes"])
app.add_typer(runs_cmd.app, name="runs", short_help=catalog.COMMANDS["runs"])
app.command("compare", short_help=catalog.COMMANDS["compare"])(runs_cmd.compare)
app.command("report", short_help=catalog.COMMANDS["report"])(runs_cmd.report)
app.command("ui", short_help=catalog.COMMANDS["ui"])(ui_cmd.ui)


def _stop_on_sigterm() -> None:
    """SIGTERM unwinds like an error (runs marked KILLED, files cleaned up) instead of killing on the spot."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        from dlkit.errors import Terminated

        raise Terminated("stopped by SIGTERM")

    signal.signal(signal.SIGTERM, stop)


class _QuickExit:
    """Skips the interpreter's teardown after a command that loaded torch.

    Once torch and Lightning are imported, Python's own teardown (modules, objects, C++ static
    state) takes seconds after the command is done, paid by every `dlkit train` and every tuning
    worker. Registered before anything else, this handler runs after every other exit handler
    (they run last-in, first-out, after Python has joined non-daemon threads), flushes the
    standard streams and ends the process with the command's exit code.
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
    import atexit

    process.tune_collector()  # this process is dlkit's own: its garbage collector is set for training
    quick = _QuickExit()
    atexit.register(quick)
    try:
        run(argv)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            quick.code = e.code or 0
        raise


def _is_stdout_error(error: OSError) -> bool:
    """Whether standard output itself failed (a full device), not a file a command touched."""
    import errno

    return error.errno in (errno.ENOSPC, errno.EIO) and error.filename is None


def run(argv: list[str] | None = None) -> None:
    """Run the Typer app on `argv`, turning every error into its message and exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _stop_on_sigterm()
    try:
        code = app(args=args, prog_name="dlkit", standalone_mode=False)
        sys.stdout.flush()  # a write error surfaces here, as a message, not at interpreter exit
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit as e:
        # Typer answers a reader that closed the pipe early (`dlkit recipes ls | head -1`) with exit 1
        # after wrapping the streams to silence their final flush; the reader has what it wanted
        if e.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(0)
        raise
    except typer.Abort:
        fail("aborted", None, 130)
    except typer.exceptions.TyperException as e:  # usage errors: unknown option, missing argument
        context = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and context is not None:  # `dlkit runs`: a group alone
            typer.echo(context.get_help())
            sys.exit(0)
        command = context.command_path if context is not None else "dlkit"
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        # "unexpected" is dlkit's word for its own failures: a usage error says what it is instead
        message = message.replace("Got unexpected extra argument", "Extra argument")
        if "'" not in message and "--" not in message:
            message = f"{command}: {message}"  # e.g. extra arguments: say which command refused them
        fail(" ".join(message.split()), f"{command} --help", getattr(e, "exit_code", 2))
    except BrokenPipeError:  # `dlkit recipes ls | head -1`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(0)
    except OSError as e:
        if not _is_stdout_error(e):
            exit_for(e, debug)
        fail(f"cannot write the output: {e.strerror or e}", None, 1)
    except (Exception, KeyboardInterrupt) as e:
        exit_for(e, debug)
    sys.exit(code if isinstance(code, int) else 0)
