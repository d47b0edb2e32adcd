"""The commit a run records is the one git itself reports, in every layout a repository's files take."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dlkit.tracking.git_head import commit_of

ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
       "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}  # fmt: skip


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if subprocess.run(["git", "--version"], capture_output=True, check=False, timeout=60).returncode != 0:
        pytest.skip("no git here to build a repository with")
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    for i in range(2):
        (root / "f.txt").write_text(str(i))
        _git(root, "add", "f.txt")
        _git(root, "commit", "-q", "-m", f"c{i}")
    (root / "deep" / "er").mkdir(parents=True)
    return root


def test_loose_ref_from_a_subfolder(repo: Path) -> None:
    assert commit_of(repo / "deep" / "er") == _git(repo, "rev-parse", "HEAD")


def test_packed_refs(repo: Path) -> None:
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert commit_of(repo) == _git(repo, "rev-parse", "HEAD")


def test_detached_head(repo: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD~1")
    _git(repo, "checkout", "-q", first)
    assert commit_of(repo) == first


def test_linked_worktree_reads_its_own_head(repo: Path, tmp_path: Path) -> None:
    _git(repo, "branch", "old", "HEAD~1")
    _git(repo, "pack-refs", "--all")
    _git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "old")
    assert (tmp_path / "wt" / ".git").is_file()
    assert commit_of(tmp_path / "wt") == _git(repo, "rev-parse", "old") != commit_of(repo)


def test_no_commit_yet_and_no_repository(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    assert commit_of(outside) is None  # no repository above a pytest temporary folder
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    assert commit_of(empty) is None
