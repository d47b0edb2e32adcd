"""What `dlkit train` shows: on a terminal one live line (epoch k/N, steps, time left, current and best
validation metric) that never outgrows the width; in a pipe one plain line per epoch; epochs counted
from 1 in both, in the summary and in the MLflow steps.

The terminal is a real pseudo-terminal of a real `dlkit train` process.
"""

from __future__ import annotations

import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import cli
from tests.tuning.test_workers import RECIPE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(
    args: list[str], cwd: Path, columns: int, extra: dict[str, str] | None = None, code: int = 0, raw: bool = False
) -> str:
    """The text a terminal `columns` wide received from `dlkit ARGS` (exit status `code`), escape
    sequences removed unless `raw`."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "dlkit", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=follower,
        stderr=follower, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the process closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert process.wait(timeout=300) == code, text[-2000:]
    return text if raw else ANSI.sub("", text)


@pytest.mark.parametrize("columns", [80, 132])
def test_one_live_line_that_fits_the_terminal(workdir: Path, tracking_uri: str, columns: int) -> None:
    shown = on_a_terminal(
        ["train", "digits-mlp", "trainer.max_epochs=4", "--tracking-uri", tracking_uri], workdir, columns
    )
    frames = [f for f in re.split(r"[\r\n]", shown) if f.startswith("epoch ")]
    assert len(frames) >= 4, shown
    assert all(len(f) <= columns for f in frames), max(frames, key=len)
    assert any(re.search(r"\d+/\d+ steps · \d+:\d\d left", f) for f in frames), frames
    final = frames[-1]
    assert final.startswith("epoch 4/4 ") and "done in 0:" in final and "best " in final, final
    assert not any(f.startswith("epoch 0/") or f.startswith("epoch 5/") for f in frames)
    best = re.search(r"best epoch (\d+) of 4: val/acc (\d\.\d{4})", shown)
    assert best is not None, shown
    assert f"best {best.group(2)} (epoch {best.group(1)})" in final

    # the MLflow steps are the same epochs, 1 to 4
    client = MlflowClient(tracking_uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [p.step for p in client.get_metric_history(run.info.run_id, "val/acc")] == [1, 2, 3, 4]


def test_piped_output_is_one_plain_line_per_epoch(workdir: Path, tracking_uri: str) -> None:
    done = cli("train", "iris-mlp", "trainer.max_epochs=3", "--tracking-uri", tracking_uri, cwd=workdir)
    assert done.returncode == 0, done.stderr
    epochs = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert epochs == ["1/3", "2/3", "3/3"]
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    assert re.search(r"^best epoch [1-3] of 3: val/loss \d\.\d{4} \(its checkpoint was tested\)$", done.stdout, re.M)


def test_tune_shows_a_live_table_and_closes_with_the_next_commands(workdir: Path, tracking_uri: str) -> None:
    recipe = workdir / "iris-tune.yaml"
    recipe.write_text(RECIPE.replace("max_epochs: 30", "max_epochs: 3"))
    journal = workdir / "study.journal"
    shown = on_a_terminal(
        ["tune", str(recipe), "--trials", "2", "trainer.max_epochs=2", "--storage", str(journal),
         "--tracking-uri", tracking_uri], workdir, 80,
    )  # fmt: skip
    lines = [line for line in re.split(r"[\r\n]", shown) if line.strip()]
    assert all(len(line) <= 80 for line in lines if line.startswith(("│", "┃", "trials"))), shown
    assert any(re.match(r"trials 2/2 · \d+:\d\d elapsed · .*best val/acc", line) for line in lines), shown
    assert any(re.match(r"│ +[01] │ COMPLETE │", line) for line in lines), shown
    assert re.search(r"^parent run [0-9a-f]{32} ", shown, re.M)

    # the suggested commands run as printed: the best trial trained again, and the study's report
    train = next(line for line in lines if line.startswith("next ")).split(None, 1)[1]
    assert "trainer.max_epochs=2" in train and "optim.lr=" in train
    report = next(line.strip() for line in lines if line.strip().startswith("dlkit report "))
    assert f"optuna-dashboard {journal}" in shown
    for command in (train, report):
        done = cli(*shlex.split(command)[1:], "--tracking-uri", tracking_uri, cwd=workdir)
        assert done.returncode == 0, (command, done.stderr)
    assert (workdir / "report.html").exists()


COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m")


@pytest.mark.parametrize("no_color", [False, True])
def test_colour_on_a_terminal_unless_no_color(workdir: Path, no_color: bool) -> None:
    """Error labels and trial states are coloured on a terminal; NO_COLOR (or a pipe) turns every colour off."""
    recipe = workdir / "bad.yaml"
    recipe.write_text("name: bad\ntask: classification\ndata: {kind: builtin, name: iris}\nmodel: {arch: nope}\n")
    raw = on_a_terminal(["train", str(recipe)], workdir, 100, {"NO_COLOR": "1"} if no_color else {}, code=2, raw=True)
    assert "model.arch" in raw
    assert bool(COLOUR.search(raw)) is not no_color, repr(raw)
    piped = cli("train", str(recipe), cwd=workdir)
    assert piped.returncode == 2 and piped.stderr.startswith("error: ") and "\x1b" not in piped.stderr
