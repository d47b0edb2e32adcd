"""Sequence models at a user's scale: `dlkit train` against a hand-written loop over the same tensors.

Workloads: a GRU and an LSTM forecaster on a 17,500-step series (window 48, batch 32, hidden 64),
and the bidirectional LSTM text classifier over 200-token sequences of the SMS spam collection.
Each side runs in a fresh process with its own defaults (dlkit's threads, PyTorch's for the hand
loop); samples per second over the training part of epochs 2..E, the median epoch, alternating.
Target: dlkit >= 0.9x the hand loop.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import contention
from benchmarks.common import ROOT, Row, paired_ratio, print_table

STEPS = 17_500
EPOCHS = 3
TARGET = 0.9
SMS = ROOT.parent / "shared" / "data" / "sms-spam.tsv"
SERIES = ["data.path={series}", "data.time_column=t", "data.target=y", "data.window=48", "data.batch_size=32"]
#: row name -> (recipe, overrides); {series} and {sms} are filled in with the files
WORKLOADS = {
    "GRU forecaster": ("sunspots-gru", SERIES),
    "LSTM forecaster": ("sunspots-lstm", SERIES),
    "LSTM text classifier, 200 tokens": ("sms-spam-lstm", ["data.path={sms}", "data.max_length=200"]),
}


def _overrides(name: str, folder: Path, steps: int = STEPS) -> tuple[str, list[str]]:
    recipe, extra = WORKLOADS[name]
    series = folder / "series.csv"
    if not series.exists():
        contention.write_series(series, steps)
    fixed = ["trainer.early_stopping=null", f"trainer.max_epochs={EPOCHS}"]
    return recipe, [*fixed, *(e.format(series=series, sms=SMS) for e in extra)]


def hand_loop(name: str, folder: Path) -> float:
    """Samples per second of the throughput benchmark's plain loop on this workload (in this process)."""
    from benchmarks import throughput

    recipe, overrides = _overrides(name, folder)
    return throughput.hand_loop(recipe, overrides, EPOCHS)


def _hand(name: str, folder: Path) -> float:
    code = f"from benchmarks.sequences import hand_loop; from pathlib import Path; print(hand_loop({name!r}, Path({str(folder)!r})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=contention._env(None), capture_output=True,
                          text=True, timeout=1800, check=True)  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def measure(repeats: int = 3, names: tuple[str, ...] = tuple(WORKLOADS), steps: int = STEPS) -> list[Row]:
    """The rows of `names`; `steps` shortens the forecasters' series (a check of the code, not a measurement)."""
    rows: list[Row] = []
    for name in names:
        if "text" in name and not SMS.exists():
            rows.append(Row(f"sequences: {name}", "skipped", f"no {SMS}", "", "", None))
            continue
        ours, hand = [], []
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            recipe, overrides = _overrides(name, folder, steps)
            for _ in range(repeats):  # alternate, so that machine noise hits both alike
                ours.append(contention.run_dlkit(recipe, overrides, folder))
                hand.append(_hand(name, folder))
        ratio = paired_ratio(ours, hand)
        label = name if "text" in name else f"{name}, {steps:,} steps"
        rows.append(Row(
            f"sequences: {label}, dlkit vs hand loop", f"{statistics.median(ours):,.0f}/s",
            f"{statistics.median(hand):,.0f}/s", f"{ratio:.2f}x", f">= {TARGET}x", ratio >= TARGET,
        ))  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure())
