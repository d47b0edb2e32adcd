"""The commit a working folder is at, read from the repository's files.

Asking `git rev-parse HEAD` forks the training process, whose address space is hundreds of MB by the
time a run starts: the fork copies its page tables and, until git is exec'ed, the child counts as a
second copy of it. Reading HEAD, the loose ref or packed-refs costs a few file reads and no process.
"""

from __future__ import annotations

import re
from pathlib import Path

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def _git_dir(start: Path) -> Path | None:
    """The repository folder of `start` or of the nearest folder above it; a worktree's `.git` file
    (`gitdir: PATH`) is followed."""
    for folder in (start, *start.parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return target if target.is_absolute() else (folder / target).resolve()
            return None
    return None


def _common_dir(git_dir: Path) -> Path:
    """Where refs live: a linked worktree keeps its own HEAD but shares the main repository's refs."""
    common = git_dir / "commondir"
    if common.is_file():
        target = Path(common.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else (git_dir / target).resolve()
    return git_dir


def _resolve(ref: str, git_dir: Path, depth: int = 0) -> str | None:
    if depth > 5:  # a symbolic ref that points at itself
        return None
    for base in dict.fromkeys((git_dir, _common_dir(git_dir))):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8", errors="replace").strip()
            if value.startswith("ref:"):
                return _resolve(value[4:].strip(), git_dir, depth + 1)
            return value if _SHA.fullmatch(value) else None
    packed = _common_dir(git_dir) / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[1].strip() == ref and _SHA.fullmatch(parts[0]):
                return parts[0]
    return None  # a branch with no commit yet


def commit_of(cwd: Path) -> str | None:
    """The commit HEAD names in the repository that holds `cwd`, or None outside one (or when its
    files cannot be read)."""
    try:
        git_dir = _git_dir(cwd.resolve())
        return _resolve("HEAD", git_dir) if git_dir is not None else None
    except (OSError, ValueError):
        return None
