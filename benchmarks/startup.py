"""Start-up of the CLI: `dlkit --help`, `recipes ls`, `recipes validate`, `models`.

Targets (medians of alternating runs, bare Python measured beside them for reference):
`--help` and `recipes ls` at most 0.2 s, `recipes validate` at most 0.35 s; `models` is shown
without one.
"""

from __future__ import annotations

import sys

from benchmarks.common import ROOT, Row, alternate, dlkit, print_table

#: the most seconds each command may take (`models` has no target)
TARGETS = {
    "dlkit --help": 0.2,
    "dlkit recipes ls": 0.2,
    "dlkit recipes validate": 0.35,
}


def measure(repeats: int = 15) -> list[Row]:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dlkit --help": [*dlkit(), "--help"],
        "dlkit recipes ls": [*dlkit(), "recipes", "ls"],
        "dlkit recipes validate": [*dlkit(), "recipes", "validate", str(ROOT / "recipes" / "digits-cnn.yaml")],
        "dlkit models": [*dlkit(), "models"],
    }
    medians = alternate(commands, repeats)
    bare = medians.pop("python -c pass")
    return [
        Row(
            f"start-up: {name}",
            f"{seconds:.3f} s",
            f"{bare:.3f} s",
            f"{seconds / bare:.1f}x",
            f"<= {TARGETS[name]} s" if name in TARGETS else "",
            seconds <= TARGETS[name] if name in TARGETS else None,
        )
        for name, seconds in medians.items()
    ]


if __name__ == "__main__":
    print_table(measure())
