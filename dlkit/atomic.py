"""Files written whole or not at all."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dlkit.errors import BadInput


def write_atomically(path: Path, data: bytes, field: str) -> None:
    """Write through a temporary file in the same folder and rename it: the old file or the new one, never half."""
    path = path.expanduser()
    check_writable(path, field)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise BadInput(f"{field}: cannot write {path} ({e.strerror})") from None


def check_writable(path: Path, field: str, *, folder: bool = False) -> None:
    """Fail before any work when `path` cannot be written: a file in an existing, writable folder, or
    (`folder`) a folder that exists or can be made. `os.access` sees read-only mounts too, even as root."""
    path = path.expanduser()
    if not folder and path.is_dir():
        raise BadInput(f"{field}: {path} is a folder", hint="name a file")
    if folder and path.exists() and not path.is_dir():
        raise BadInput(f"{field}: {path} is a file, not a folder")
    if not folder and not path.parent.is_dir():
        raise BadInput(f"{field}: folder {path.parent} does not exist")
    nearest = path if path.exists() else path.parent
    while not nearest.exists():
        nearest = nearest.parent
    if not os.access(nearest, os.W_OK):
        raise BadInput(f"{field}: {nearest} is not writable", hint="pick a writable place")
