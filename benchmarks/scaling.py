"""Cost that grows with the rows: a generated 14-column table (10 numbers, 3 categories, a class) at
10,000, 100,000 and 1,000,000 rows, with the recipe `dlkit init` infers for it.

Rows per size: reading and preprocessing (dlkit's data module, numbers scaled, against
`pandas.read_csv` plus scikit-learn's scaler and one-hot encoder fitted on the same training rows;
<= 1.5x); epoch throughput (`dlkit train` with the inferred recipe, the training part of epochs 2..E,
against the hand loop over the same tensors, model and batch size; >= 0.9x); peak memory (the peak
resident set of that `dlkit train` above the same command's on 1,000 rows, against the float32 feature
matrix it trains on; <= 3x). Then the growth of each from 100,000 to 1,000,000 rows (linear: within
12x). Each side runs in a fresh process; the two alternate; ratios are medians of each repeat's own.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import contention
from benchmarks.common import ROOT, Row, paired_ratio, print_table

SIZES = (10_000, 100_000, 1_000_000)
BASE_ROWS = 1_000  # the fixed part of the memory: imports, model, store
EPOCHS = 3
NUMBERS, CATEGORIES = 10, {"colour": 4, "city": 12, "shop": 30}
READ_TARGET, EPOCH_TARGET, MEMORY_TARGET, GROWTH_TARGET = 1.5, 0.9, 3.0, 12.0


def write_table(path: Path, rows: int, seed: int = 0) -> None:
    """A classification table whose class depends on four numbers and two of the categories."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, NUMBERS)).astype(np.float32)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(NUMBERS)])
    logit = x[:, :4] @ np.array([1.0, -0.8, 0.5, 0.3], dtype=np.float32)
    for name, levels in CATEGORIES.items():
        codes = rng.integers(0, levels, rows)
        frame[name] = np.char.add(f"{name}-", codes.astype(str))
        logit += np.where(codes % 3 == 0, 0.6, -0.2) if name != "shop" else 0.0
    frame["y"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame.to_csv(path, index=False, float_format="%.5f")


def dlkit_read(recipe: str, warm: str) -> float:
    """Seconds of dlkit's data module over the recipe's table (read, split, impute, scale,
    encode), the numbers scaled as the baseline scales them, after a first build on the small `warm` file
    (imports and first calls out of the timing)."""
    from dlkit import data
    from dlkit.recipe import load

    plain = ["data.numeric_encoding=scaled"]
    data.build(load(recipe, [*plain, f"data.path={warm}"]))
    loaded = load(recipe, plain)
    start = time.perf_counter()
    data.build(loaded)
    return time.perf_counter() - start


def hand_read(path: str, warm: str) -> float:
    """Seconds of the scikit-learn way: read the file, fit scaler and one-hot encoder on the training
    rows, transform every row to float32 tensors, encode the labels (after the same on `warm`)."""
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

    def read(file: str) -> None:
        frame = pd.read_csv(file)
        train = np.random.default_rng(0).permutation(len(frame))[: int(len(frame) * 0.7)]
        inputs = frame.drop(columns="y")
        encoder = ColumnTransformer([
            ("numbers", StandardScaler(), [f"x{i}" for i in range(NUMBERS)]),
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORIES)),
        ])  # fmt: skip
        encoder.fit(inputs.iloc[train])
        x = torch.from_numpy(encoder.transform(inputs).astype(np.float32))
        y = torch.from_numpy(LabelEncoder().fit_transform(frame["y"]))
        assert len(x) == len(y)

    read(warm)
    start = time.perf_counter()
    read(path)
    return time.perf_counter() - start


def hand_epochs(recipe: str) -> tuple[float, int, int]:
    """(samples per second, training rows, input features) of the throughput benchmark's hand loop over
    the tensors dlkit makes of this recipe's table."""
    from benchmarks import throughput

    _, module, _ = throughput._setup(recipe, [])
    x = module.splits["train"][0]
    return throughput.hand_loop(recipe, [], EPOCHS), len(x), int(x.shape[1])


def _in_process(call: str) -> Any:
    """The value `call` (an expression over this module) returns, computed in a fresh Python."""
    code = f"import json; from benchmarks.scaling import *; print(json.dumps({call}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=contention._env(None), capture_output=True,
                          text=True, timeout=3600, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def dlkit_train(recipe: Path, folder: Path) -> tuple[float, float]:
    """(samples per second over epochs 2..E, peak resident MiB) of `dlkit train RECIPE` in a fresh process."""
    wrapper = (
        "import resource, runpy, sys; sys.argv = ['dlkit', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('dlkit', run_name='__main__')\n"
        "finally:\n    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)\n"
    )
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-c", wrapper, "train", str(recipe), "trainer.early_stopping=null",
         f"trainer.max_epochs={EPOCHS}", "tracking.log_model=false", "tracking.log_checkpoint=false",
         "--tracking-uri", uri, "--no-progress"],
        cwd=folder, env=contention._env(None), capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    lines = done.stdout.splitlines()
    run_id = next(line.split()[-1] for line in lines if line.startswith("run id"))
    peak = float(next(line.split()[-1] for line in lines if line.startswith("peak ")))
    return contention.samples_per_sec(uri, run_id), peak


def _recipe(folder: Path, rows: int) -> Path:
    """The table of `rows` rows and the recipe `dlkit init` infers for it (the one `dlkit train FILE` runs)."""
    table, recipe = folder / f"table-{rows}.csv", folder / f"table-{rows}.yaml"
    write_table(table, rows)
    subprocess.run([sys.executable, "-m", "dlkit", "init", str(table), "--target", "y", "-o", str(recipe)],
                   cwd=folder, env=contention._env(None), capture_output=True, text=True, timeout=600, check=True)  # fmt: skip
    return recipe


def measure(repeats: int = 3, sizes: tuple[int, ...] = SIZES) -> list[Row]:
    rows: list[Row] = []
    figures: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = _recipe(folder, BASE_ROWS)
        warm = str(base.with_suffix(".csv"))
        _, base_peak = dlkit_train(base, folder)
        for n in sizes:
            recipe = _recipe(folder, n)
            table = str(recipe.with_suffix(".csv"))
            ours_read, hand_reads, ours_rate, hand_rate, peaks = [], [], [], [], []
            features = train_rows = 0
            for _ in range(repeats):  # alternate, so that machine noise hits both sides alike
                ours_read.append(_in_process(f"dlkit_read({str(recipe)!r}, {warm!r})"))
                hand_reads.append(_in_process(f"hand_read({table!r}, {warm!r})"))
                rate, peak = dlkit_train(recipe, folder)
                ours_rate.append(rate)
                peaks.append(peak)
                hand, train_rows, features = _in_process(f"hand_epochs({str(recipe)!r})")
                hand_rate.append(hand)
            read_ratio = paired_ratio(ours_read, hand_reads)
            rate_ratio = paired_ratio(ours_rate, hand_rate)
            matrix = n * features * 4 / 2**20
            above = max(statistics.median(peaks) - base_peak, 0.0)  # a small table can peak below the noise
            memory_ratio = above / matrix
            figures[n] = {"read": statistics.median(ours_read), "epoch": train_rows / statistics.median(ours_rate),
                          "memory": max(above, 1.0)}  # fmt: skip
            rows += [
                Row(f"scaling: read and preprocess, {n:,} rows, dlkit vs pandas + scikit-learn",
                    f"{statistics.median(ours_read):.2f} s", f"{statistics.median(hand_reads):.2f} s",
                    f"{read_ratio:.2f}x", f"<= {READ_TARGET}x", read_ratio <= READ_TARGET),
                Row(f"scaling: epoch throughput, {n:,} rows, dlkit vs hand loop", f"{statistics.median(ours_rate):,.0f}/s",
                    f"{statistics.median(hand_rate):,.0f}/s", f"{rate_ratio:.2f}x", f">= {EPOCH_TARGET}x",
                    rate_ratio >= EPOCH_TARGET),
                Row(f"scaling: peak memory, {n:,} rows, above {BASE_ROWS:,} rows vs the float32 features",
                    f"{above:,.0f} MiB", f"{matrix:,.1f} MiB ({features} columns)", f"{memory_ratio:.2f}x",
                    f"<= {MEMORY_TARGET}x", memory_ratio <= MEMORY_TARGET),
            ]  # fmt: skip
    if len(sizes) >= 2:
        small, large = sizes[-2], sizes[-1]
        for what in ("read", "epoch", "memory"):
            growth = figures[large][what] / figures[small][what]
            rows.append(Row(f"scaling: {what} growth, {small:,} to {large:,} rows", f"{growth:.1f}x",
                            f"{large // small}x the rows", f"{growth:.1f}x", f"<= {GROWTH_TARGET:.0f}x",
                            growth <= GROWTH_TARGET))  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure())
