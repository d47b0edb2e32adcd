"""The check of a journal storage path, torch- and Optuna-free: the CLI runs it before starting workers."""

from __future__ import annotations

import json
from pathlib import Path

from dlkit.atomic import check_writable
from dlkit.errors import BadInput

DEFAULT_JOURNAL = "optuna-studies.journal"


def check_journal(path: Path) -> None:
    """A journal file to open: in a writable folder, itself writable, and an Optuna journal if it has content."""
    check_writable(path, "--storage")
    if path.exists() and not path.is_file():  # a FIFO or a device: reading it could block
        raise BadInput(f"--storage: {path} is not a regular file")
    if path.exists() and path.stat().st_size:
        with path.open("rb") as f:
            first = f.readline(1 << 16)
        try:
            entry = json.loads(first.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            entry = None
        if not isinstance(entry, dict) or "op_code" not in entry:
            raise BadInput(
                f"--storage: {path} is not an Optuna journal", hint="name a new file, or the journal of a study"
            )
