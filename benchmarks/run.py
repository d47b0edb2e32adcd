"""Run every benchmark and print one table (`nox -s bench`)."""

from __future__ import annotations

import os
import platform

from benchmarks import (
    contention,
    end_to_end,
    images,
    levers,
    listing,
    pruning,
    scaling,
    sequences,
    startup,
    study_scale,
    throughput,
    tuning_jobs,
)
from benchmarks.common import print_table


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rows = startup.measure() + listing.measure() + end_to_end.measure() + throughput.measure() + levers.measure()
    rows += tuning_jobs.measure() + pruning.measure() + contention.measure() + sequences.measure()
    rows += scaling.measure() + images.measure() + study_scale.measure()
    print_table(rows)


if __name__ == "__main__":
    main()
