"""Start-up of the CLI against bare Python: `dlkit --help`, `recipes ls`, `recipes validate`.

Target: each under 0.3 s and under 5x `python -c pass` (medians of alternating runs). A last
row, with no target, times what any pydantic-checked command imports before it does anything:
PyYAML and pydantic's `BaseModel`, the floor under `recipes validate` and `models`.
"""

from __future__ import annotations

import sys

from benchmarks.common import ROOT, Row, alternate, dlkit, print_table

FLOOR_CODE = "import yaml; from pydantic import BaseModel"
FLOOR = f"python -c '{FLOOR_CODE}'"


def measure(repeats: int = 15) -> list[Row]:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dlkit --help": [*dlkit(), "--help"],
        "dlkit recipes ls": [*dlkit(), "recipes", "ls"],
        "dlkit recipes validate": [*dlkit(), "recipes", "validate", str(ROOT / "recipes" / "digits-cnn.yaml")],
        "dlkit models": [*dlkit(), "models"],
        FLOOR: [sys.executable, "-c", FLOOR_CODE],
    }
    medians = alternate(commands, repeats)
    bare = medians.pop("python -c pass")
    floor = medians.pop(FLOOR)
    rows = []
    for name, seconds in medians.items():
        ratio = seconds / bare
        rows.append(
            Row(
                f"start-up: {name}",
                f"{seconds:.3f} s",
                f"{bare:.3f} s",
                f"{ratio:.1f}x",
                "< 0.3 s, < 5x",
                seconds < 0.3 and ratio < 5,
            )
        )
    rows.append(Row(f"start-up floor: {FLOOR}", f"{floor:.3f} s", f"{bare:.3f} s", f"{floor / bare:.1f}x", "", None))
    return rows


if __name__ == "__main__":
    print_table(measure())
