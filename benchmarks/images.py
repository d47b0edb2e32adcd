"""Image folders over the memory budget: `dlkit train` streaming PNGs against a hand-written DataLoader.

The folder is generated: small grayscale PNGs (28x28, ten classes of drawn bars), 20,000 and
100,000 of them. dlkit trains the bundled `images-cnn` recipe on it with a memory budget below
the decoded folder, so it streams: DataLoader workers decode the files batch by batch. The hand
loop decodes the same files the same way (Pillow, gray, scaled to [0, 1], normalised) in a
`Dataset` of its own, with the same workers, batch size, model and optimiser. Each side runs in a
fresh process; samples per second over the training part of epochs 2..E, the median epoch,
alternating. Targets: dlkit >= 0.9x the hand loop; peak memory bounded whatever the folder size
(the peak at the largest folder within 1.25x the peak at the smallest, the decoded folder growing 5x).
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

SIZES = (20_000, 100_000)
SIDE = 28
CLASSES = 10
EPOCHS = 3
BATCH = 64
WORKERS = 2
TARGET = 0.9
MEMORY_TARGET = 1.25
#: the recipe and what differs from it; the budget of 1 MiB makes every folder stream
OVERRIDES = [
    f"data.image_size={SIDE}", "data.channels=1", "data.memory_budget_mb=1", "data.augment=null",
    f"data.batch_size={BATCH}", f"data.num_workers={WORKERS}", "model.channels=[16,32]", "model.hidden=[64]",
    "trainer.early_stopping=null", f"trainer.max_epochs={EPOCHS}",
]  # fmt: skip


def write_folder(folder: Path, images: int, seed: int = 0) -> Path:
    """`images` PNGs in one subfolder per class: a bar whose angle is the class, at a random offset, in noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIDE, :SIDE] - SIDE / 2
    for c in range(CLASSES):
        (folder / f"class-{c}").mkdir(parents=True, exist_ok=True)
    for i in range(images):
        c = i % CLASSES
        angle = np.pi * c / CLASSES
        offset = rng.normal(0, 3, 2)
        distance = np.abs((xx - offset[0]) * np.sin(angle) - (yy - offset[1]) * np.cos(angle))
        pixels = np.clip(255 * np.exp(-(distance**2) / 4) + rng.normal(0, 40, (SIDE, SIDE)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8), mode="L").save(folder / f"class-{c}" / f"{i:06d}.png")
    return folder


def hand_loop(folder: str, epochs: int = EPOCHS) -> list[float]:
    """(samples per second, median of epochs 2..E; peak resident MiB of this process and of its workers)."""
    import resource

    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    from dlkit import data, models
    from dlkit.recipe import load
    from dlkit.tasks.optimizers import make_optimizer

    # dlkit builds the model and the splits (not timed): the same network, the same training files
    recipe = load("images-cnn", [f"data.path={folder}", *OVERRIDES])
    module: Any = data.build(recipe)
    if not module.info.preprocessing.get("streamed"):
        raise RuntimeError(f"{folder} fits the memory budget: it would not stream")
    backbone = models.build(recipe.model, module.info)
    rows = module.index["train"]
    files = [module.files[i] for i in rows]
    labels = module.y[rows]
    mean, std = float(module.shift.ravel()[0]), float(module.scale.ravel()[0])

    class Files(Dataset[tuple[torch.Tensor, int]]):
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
            with Image.open(files[i]) as image:
                x = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
            return torch.from_numpy((x[None] - mean) / std), int(labels[i])

    loader = DataLoader(Files(), batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=True)
    optimizer = make_optimizer(backbone.parameters(), recipe.optim, recipe.optim.lr)
    backbone.train()
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(backbone(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        rates.append(len(files) / (time.perf_counter() - start))
    del loader  # its workers exit, so that their peak is counted
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return [statistics.median(rates[1:]), own, workers]


def _hand(folder: Path) -> list[float]:
    code = f"import json; from benchmarks.images import hand_loop; print(json.dumps(hand_loop({str(folder)!r})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=contention._env(None), capture_output=True,
                          text=True, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return [float(v) for v in json.loads(done.stdout.strip().splitlines()[-1])]


def dlkit_train(folder: Path, work: Path) -> list[float]:
    """(samples per second over epochs 2..E, peak resident MiB of dlkit's process and of its workers)."""
    wrapper = (
        "import resource, runpy, sys; sys.argv = ['dlkit', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('dlkit', run_name='__main__')\n"
        "finally:\n    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,\n"
        "          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, flush=True)\n"
    )
    uri = f"sqlite:///{work / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-c", wrapper, "train", "images-cnn", f"data.path={folder}", *OVERRIDES,
         "tracking.log_model=false", "tracking.log_checkpoint=false", "--tracking-uri", uri, "--no-progress"],
        cwd=work, env=contention._env(None), capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    lines = done.stdout.splitlines()
    run_id = next(line.split()[-1] for line in lines if line.startswith("run id"))
    own, workers = (float(v) for v in next(line.split()[1:] for line in lines if line.startswith("peak ")))
    return [contention.samples_per_sec(uri, run_id), own, workers]


def measure(repeats: int = 3, sizes: tuple[int, ...] = SIZES) -> list[Row]:
    rows: list[Row] = []
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in sizes:
            folder = write_folder(work / f"images-{n}", n)
            ours, hand, own_peaks, worker_peaks = [], [], [], []
            for _ in range(repeats):  # alternate, so that machine noise hits both sides alike
                rate, own, workers = dlkit_train(folder, work)
                ours.append(rate)
                own_peaks.append(own)
                worker_peaks.append(workers)
                hand.append(_hand(folder)[0])
            ratio = paired_ratio(ours, hand)
            peaks[n] = statistics.median(own_peaks)
            decoded = n * SIDE * SIDE * 4 / 2**20
            rows += [
                Row(f"images: streaming {n:,} PNGs, dlkit vs hand DataLoader ({WORKERS} workers)",
                    f"{statistics.median(ours):,.0f}/s", f"{statistics.median(hand):,.0f}/s", f"{ratio:.2f}x",
                    f">= {TARGET}x", ratio >= TARGET),
                Row(f"images: peak memory, {n:,} PNGs: dlkit's process / largest worker", f"{peaks[n]:,.0f} MiB / "
                    f"{statistics.median(worker_peaks):,.0f} MiB", f"{decoded:,.0f} MiB decoded", "", "", None),
            ]  # fmt: skip
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        growth = peaks[large] / peaks[small]
        rows.append(Row(f"images: peak memory growth, {small:,} to {large:,} PNGs", f"{growth:.2f}x",
                        f"{large // small}x the images", f"{growth:.2f}x", f"<= {MEMORY_TARGET}x",
                        growth <= MEMORY_TARGET))  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure())
