"""Small helpers shared by the commands (no heavy imports)."""

from __future__ import annotations

from typing import Any

OVERRIDES_HELP = "Recipe overrides as dotted key=value pairs, values in YAML: optim.lr=3e-4 model.channels=[16,32]."


def console(stderr: bool = False) -> Any:
    """A rich console (imported on first use)."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # piped into a file or a CI log, rich would squeeze tables into 80 columns
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def is_worker_rank() -> bool:
    """Whether this process is one of the extra ranks of a distributed run (Lightning's launcher, torchrun, SLURM).

    Such a process runs the same command as rank 0 and trains its share of the data; only rank 0
    creates the MLflow run and prints.
    """
    import os

    return any(os.environ.get(key, "0") not in ("", "0") for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def printable(text: object) -> str:
    """`text` without control characters: a run name, tag or file name holding ANSI escape sequences
    would otherwise recolour, move or clear the user's terminal. Each one shows as its escape (\\x1b);
    line breaks stay (a message may list several problems)."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii") for c in value)


def cell(text: object) -> Any:
    """A table cell or title from data that is not dlkit's own: printable, and never read as rich markup."""
    from rich.text import Text

    return Text(printable(text))


def to_json(value: Any) -> str:
    """Strict JSON for scripts: NaN and infinities become null, dates and paths their text."""
    import json
    import math

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), indent=2, allow_nan=False, default=str)
