"""Typed errors: library code raises these, `dlkit.cli.app` prints them.

Each error carries a one-line message and an optional hint telling the user
what to do. `exit_code` is 2 for bad input (recipe, overrides, data files) and
1 for a run that failed after it started.
"""

from __future__ import annotations

from collections.abc import Iterable


class DlkitError(Exception):
    """Base of every error dlkit reports to the user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class BadInput(DlkitError):
    """The user's recipe, overrides, files or arguments are wrong."""

    exit_code = 2


class RecipeNotFound(BadInput):
    """A recipe name or path that does not exist."""


class RecipeError(BadInput):
    """A recipe that does not parse or does not validate.

    `problems` lists every problem found, one line each; the message is the
    first of them when there is only one.
    """

    #: problems the message shows when there are more (with its hint, four lines in all)
    SHOWN = 2

    def __init__(self, source: str, problems: list[str], hint: str | None = None) -> None:
        self.source = source
        # one line each, whatever the quoted values hold
        self.problems = problems = [p.replace("\r", "\\r").replace("\n", "\\n") for p in problems]
        if len(problems) == 1:
            message = problems[0]
        else:
            message = f"{source}: {len(problems)} problems\n" + "\n".join(f"  {p}" for p in problems[: self.SHOWN])
            if len(problems) > self.SHOWN:
                hint = f"{len(problems) - self.SHOWN} more: `dlkit recipes validate` lists every problem"
        super().__init__(message, hint)

    @property
    def listing(self) -> str:
        """Every problem, one per line (`message` shows the first few)."""
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{self.source}: {len(self.problems)} problems\n" + "\n".join(f"  {p}" for p in self.problems)


class UnknownName(BadInput):
    """A name that is not in a registry (architecture, data kind, task, ...)."""

    def __init__(self, what: str, name: str, available: Iterable[str]) -> None:
        names = sorted(available)
        from difflib import get_close_matches

        close = get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        super().__init__(f"unknown {what} '{name}'; available: {', '.join(names)}", hint)
        self.name = name
        self.available = names


class DataError(BadInput):
    """A dataset that cannot be read or is unusable for the recipe."""


class TrackingError(DlkitError):
    """The tracking store cannot be reached or written."""

    exit_code = 2


class Interrupted(DlkitError):
    """The user stopped the run (Ctrl-C)."""

    exit_code = 130


class Terminated(Interrupted):
    """The run was stopped with SIGTERM (a scheduler, `kill`)."""

    exit_code = 143


class TrainingFailed(DlkitError):
    """Training started and then failed."""

    exit_code = 1
    #: a short code for the run's `dlkit.failure` tag (the message goes to `dlkit.failure_message`)
    failure_code: str | None = None


class NonFiniteLoss(TrainingFailed):
    """The training loss became NaN or infinite."""

    failure_code = "nonfinite_loss"
