"""Running one generated case through the real CLI and checking dlkit's contract on what it did.

The contract, for every input: exit 0, or exit 2 with at most 4 lines whose first names a file, field,
column or option; never a traceback, a signal exit or "unexpected"; after an exit 2, no RUNNING or
FAILED run and no file the case did not bring; each case within 60 s and 1 GB of memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CASE_SECONDS = 60
CASE_BYTES = 1 << 30
MAX_ERROR_LINES = 4

#: what an error line names: an option, a dotted field, a quoted name, a path, or `thing: problem`
NAMES_SOMETHING = re.compile(r"--\w|\w\.\w|'[^']*'|\"[^\"]*\"|/|^error: [\w .\[\]<>()=-]+?: ")


@dataclass
class Outcome:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int
    stopped_for: str | None = None  # "time" or "memory" when the watchdog ended it
    left: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"dlkit {' '.join(self.args)[:400]}\n-> exit {self.code} in {self.seconds:.1f} s, "
            f"{self.peak_bytes / 2**20:.0f} MiB{f', stopped for {self.stopped_for}' if self.stopped_for else ''}\n"
            f"stderr: {self.stderr[-1500:]}\nstdout tail: {self.stdout[-500:]}"
        )


def _memory(pid: int) -> int:
    """A process's share of memory: its proportional set size, which splits the pages a forked child
    still shares with its parent between the two (their resident sizes would count them twice), or
    its resident size where the kernel gives no smaps_rollup."""
    for name, field_ in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(name) as f:
                for line in f:
                    if line.startswith(field_):
                        return int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return 0


def _tree_rss(pid: int) -> int:
    """Memory of a process and its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _memory(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as f:
                todo.extend(int(child) for child in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return total


def run_case(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    """`python -m dlkit ARGS` in its own session, killed with its whole tree past the time or memory bound."""
    args = [a.replace("\x00", "") for a in args]  # no command line can carry a NUL byte
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update({"PYTHONHASHSEED": "0", "COLUMNS": "200", **(env or {})})
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlkit", *args],
        cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    peak = 0
    stopped: list[str] = []

    def watch() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            if peak > CASE_BYTES or time.monotonic() - started > CASE_SECONDS:
                stopped.append("memory" if peak > CASE_BYTES else "time")
                os.killpg(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    out, err = proc.communicate(timeout=CASE_SECONDS + 60)
    watchdog.join(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # a worker the command left behind would outlive the case
    return Outcome(
        args, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
        time.monotonic() - started, peak, stopped[0] if stopped else None,
    )  # fmt: skip


def run_states(folder: Path) -> list[str]:
    """The status of every MLflow run in the SQLite stores under `folder`."""
    states: list[str] = []
    for db in folder.rglob("*.db"):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
                states += [row[0] for row in connection.execute("SELECT status FROM runs")]
        except sqlite3.Error:
            continue
    return states


def check(outcome: Outcome, folder: Path, brought: set[str]) -> None:
    """Assert the contract on one case; `brought` are the files the case put in `folder` itself.

    With DLKIT_CONTRACT_LOG set, each case also appends a line (exit, seconds, MiB, command, first
    error line) to that file: the figures of a long run.
    """
    what = outcome.describe()
    log = os.environ.get("DLKIT_CONTRACT_LOG")
    if log:
        first = next((line for line in outcome.stderr.splitlines() if line.startswith("error: ")), "")
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{outcome.code}\t{outcome.seconds:.1f}\t{outcome.peak_bytes / 2**20:.0f}\t"
                    f"{' '.join(outcome.args)[:160]!r}\t{first[:200]!r}\n")  # fmt: skip
    assert outcome.stopped_for is None, f"over the {outcome.stopped_for} bound:\n{what}"
    assert outcome.code >= 0, f"killed by signal {-outcome.code}:\n{what}"
    assert outcome.code in (0, 2), f"exit {outcome.code}:\n{what}"
    assert "Traceback" not in outcome.stderr and "unexpected" not in outcome.stderr, what
    states = run_states(folder)
    if outcome.code == 2:
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert 1 <= len(lines) <= MAX_ERROR_LINES, what
        first = next((line for line in lines if line.startswith("error: ")), None)
        assert first is not None, what
        assert NAMES_SOMETHING.search(first), f"the error names no file, field, column or option:\n{what}"
        assert not [s for s in states if s in ("RUNNING", "FAILED")], f"runs left {states}:\n{what}"
        left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        stray = [p for p in left if p not in brought]
        assert not stray, f"files left behind {stray}:\n{what}"
    else:
        assert all(s == "FINISHED" for s in states), f"runs {states} after exit 0:\n{what}"
