"""The garbage collector around the heavy imports: paused in any process, frozen and retuned only in dlkit's own."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlkit import process


def test_library_use_pauses_the_collector_and_leaves_the_interpreter_as_it_was() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert not process.is_own()
    with process.heavy_importing():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_threshold() == threshold and gc.get_freeze_count() == frozen

    gc.disable()  # a user who switched the collector off keeps it off
    try:
        with process.heavy_importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_import_that_fails_switches_the_collector_back_on() -> None:
    with pytest.raises(ImportError), process.heavy_importing():
        raise ImportError("no such module")
    assert gc.isenabled()


def test_the_dlkit_script_freezes_its_imports_and_runs_no_full_collection(tmp_path: Path) -> None:
    """`dlkit train` in a process of its own: the objects of the heavy imports are frozen once, young
    objects wait for 5,000 allocations, and training runs at most two full collections."""
    log = tmp_path / "gc.json"
    code = textwrap.dedent(f"""
        import gc, json
        seen = {{"full": 0, "frozen": [], "threshold": None, "freezes": 0}}
        freeze = gc.freeze
        def counted_freeze():
            seen["freezes"] += 1
            freeze()
        gc.freeze = counted_freeze
        def record(phase, info):
            if phase == "stop":
                seen["full"] += info["generation"] == 2
                seen["frozen"].append(gc.get_freeze_count())
                seen["threshold"] = gc.get_threshold()[0]
                with open({str(log)!r}, "w") as f:
                    json.dump(seen, f)
        gc.callbacks.append(record)
        from dlkit.cli.app import main
        main(["train", "iris-mlp", "trainer.max_epochs=3", "--tracking-uri", "sqlite:///mlflow.db"])
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(log.read_text())
    assert seen["threshold"] == process.YOUNG_THRESHOLD
    frozen = [n for n in seen["frozen"] if n]
    assert frozen and frozen[0] > 100_000  # Lightning, MLflow, torch and the rest, frozen after import
    assert seen["freezes"] == 1  # once: later heavy_imports() calls freeze nothing more
    assert seen["full"] <= 2, seen["full"]


def test_training_leaves_the_cores_other_work_holds() -> None:
    """Runs nobody set threads for take the cores that are free: all on an idle machine, at least one."""
    import subprocess
    import sys
    import time

    from dlkit.process import busy_cores, training_threads

    assert training_threads(cores=2, busy=0) == 2
    assert training_threads(cores=2, busy=1) == 1
    assert training_threads(cores=2, busy=5) == 1
    assert training_threads(cores=8, busy=3) == 5
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.5)
        assert busy_cores() >= 1  # the spinners are runnable whenever the kernel looks
    finally:
        for p in spinners:
            p.kill()
            p.wait(timeout=30)
