"""Wall time and peak memory of `dlkit train digits-cnn` from a cold process.

Targets: under 60 s and under 1.5 GiB.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import Row, dlkit, peak_child_rss_mib, print_table, timed


def measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        seconds = timed(
            [*dlkit(), "train", "digits-cnn", "--tracking-uri", f"sqlite:///{Path(tmp) / 'mlflow.db'}"], cwd=Path(tmp)
        )
    peak = peak_child_rss_mib()
    return [
        Row("end to end: dlkit train digits-cnn", f"{seconds:.1f} s", "", "", "< 60 s", seconds < 60),
        Row("end to end: peak memory", f"{peak:.0f} MiB", "", "", "< 1536 MiB", peak < 1536),
    ]


if __name__ == "__main__":
    print_table(measure())
