"""Files written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from dlkit.errors import BadInput


def write_atomically(path: Path, data: bytes, field: str) -> None:
    """Write through a temporary file in the same folder and rename it: the old file or the new one, never half."""
    path = path.expanduser()
    if not path.parent.is_dir():
        raise BadInput(f"{field}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BadInput(f"{field}: cannot write {path} ({e.strerror})") from None
