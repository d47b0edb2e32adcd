"""Exactly one `dlkit train --resume RUN` proceeds at a time: real processes, a real kernel lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from mlflow import MlflowClient

from dlkit.locks import LockHeld, exclusive
from tests.training.test_reliability import _env, _start, _wait_for_epochs

TRY_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dlkit.locks import LockHeld, exclusive
    try:
        with exclusive(Path(sys.argv[1])):
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
    except LockHeld as e:
        print("held by", e.holder)
    """
)


def _try_lock(path: Path, hold_s: float = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", TRY_LOCK, str(path), str(hold_s)], stdout=subprocess.PIPE, text=True)


def test_a_second_process_is_refused_with_the_holder_and_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "resume.lock"
    with exclusive(path):
        out, _ = _try_lock(path).communicate(timeout=60)
        assert out.strip() == f"held by process {os.getpid()} on {os.uname().nodename}"
    assert not path.exists()  # released and removed

    holder = _try_lock(path, hold_s=120)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        try:
            with exclusive(path):
                raise AssertionError("the lock of a live process was taken")
        except LockHeld as e:
            assert e.holder.startswith(f"process {holder.pid} ")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=60)
    with exclusive(path):  # the kernel dropped the killed holder's lock; its file is reused
        pass


def test_two_resumes_of_one_run_at_once_let_exactly_one_proceed(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    proc = _start(
        ["train", "iris-mlp", "trainer.max_epochs=40", "trainer.early_stopping=null", "--tracking-uri", uri], workdir
    )
    run_id = _wait_for_epochs(proc, 2)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 143

    command = [sys.executable, "-m", "dlkit", "train", "--resume", run_id, "--tracking-uri", uri]
    both = [
        subprocess.Popen(command, cwd=workdir, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.communicate(timeout=60)) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, (_, err) in results if code == 2)
    assert f"--resume: run {run_id} is being resumed by process" in refused, refused
    assert len([line for line in refused.splitlines() if line.strip()]) <= 2
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = [p.step for p in client.get_metric_history(run_id, "train/loss")]
    assert sorted(steps) == list(range(1, 41))  # every epoch logged once
    assert not list(workdir.rglob("resume.lock"))
