"""The MLflow 3 UI as a user sees it, rendered by headless Chromium over `dlkit ui`: train, k-fold and tune runs
in one experiment, opened in model-training mode, with distinct run names and the logged models listed."""

from __future__ import annotations

import html
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.postgres import free_port

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rendered_text(url: str, profile: Path) -> str:
    """The page's visible text once its scripts ran (headless Chromium's DOM dump, tags and styles removed)."""
    done = subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    dom = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", done.stdout, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_experiment_opens_on_model_training_with_named_runs_and_logged_models(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = ("--tracking-uri", uri, "--experiment", "ui-check", "--no-progress")
    for args in (
        ("train", "iris-mlp", "trainer.max_epochs=2"),
        ("train", "iris-mlp", "trainer.max_epochs=2"),  # the same again: a numbered name
        ("train", "iris-mlp", "trainer.max_epochs=2", "optim.lr=0.01"),
        ("train", "iris-mlp", "trainer.max_epochs=2", "--folds", "2"),
        (
            "tune",
            "breast-cancer-mlp",
            "trainer.max_epochs=2",
            "--trials",
            "2",
            "--storage",
            str(tmp_path / "study.log"),
        ),
    ):
        done = run_cli(*args, *common, cwd=tmp_path, timeout=600)
        assert done.returncode == 0, (args, done.stderr)

    port = free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "dlkit", "ui", "--port", str(port), "--tracking-uri", uri],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert ui.stdout is not None
        ui.stdout.readline()
        page = ui.stdout.readline()
        assert "runs of experiment 'ui-check': " in page, page
        address = page.split(": ", 1)[1].strip()
        runs = rendered_text(address, tmp_path / "profile")
        # model-training mode: runs, models and the registry, not the GenAI overview of traces
        assert "Models" in runs and "Model registry" in runs, runs[:2000]
        assert "Detect Issues" not in runs and "Latency" not in runs and "Token Usage" not in runs
        for name in ("iris-mlp max_epochs=2", "iris-mlp max_epochs=2-2", "iris-mlp max_epochs=2 lr=0.01",
                     "iris-mlp max_epochs=2 cv2", "breast-cancer-mlp-study"):  # trials and folds: folded under their parent  # fmt: skip
            assert re.search(re.escape(name) + r"(?![-\w])", runs), (name, runs[:3000])
        models = rendered_text(address.replace("/runs?", "/models?"), tmp_path / "profile")
        assert "Ready" in models and "iris-mlp max_epochs=2 lr=0.01" in models, models[:3000]
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            ui.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
            ui.communicate(timeout=30)
