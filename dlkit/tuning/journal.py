"""The check of a journal storage path, torch- and Optuna-free: the CLI runs it before starting workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dlkit.errors import BadInput

DEFAULT_JOURNAL = "optuna-studies.journal"


def check_journal(path: Path) -> None:
    """A journal file to open: in a writable folder, itself writable, and an Optuna journal if it has content."""
    if not path.parent.is_dir():
        raise BadInput(f"--storage: folder {path.parent} does not exist")
    if path.is_dir():
        raise BadInput(
            f"--storage: {path} is a folder", hint=f"name a journal file in it, e.g. {path / 'study.journal'}"
        )
    if path.exists() and not path.is_file():  # a FIFO or a device: reading it could block
        raise BadInput(f"--storage: {path} is not a regular file")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise BadInput(
            f"--storage: {path if path.exists() else path.parent} is not writable", hint="pick a writable place"
        )
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
