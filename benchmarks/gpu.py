"""GPU training throughput: `dlkit train` against a hand-written loop with the same settings.

A 6-block ResNet on 50,000 synthetic 3x32x32 images (made in memory, class-dependent patterns plus
noise), batch 256, bf16 autocast, channels-last, data kept on the GPU, optionally torch.compile.
Images per second over epochs 2..E, each counted from the epoch's wall time after a device sync;
the two loops alternate (--repeats) and the ratio is the median of each pair's own ratio.
Target: dlkit at least 0.9x the hand loop.

Needs a CUDA GPU for its figures. `--device cpu` with a small `--samples` and `--widths` runs the same
code on a CPU (bf16 autocast there too) as a check that the benchmark works, not as a measurement.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Row, paired_ratio, print_table

CLASSES = 10


@dataclass(frozen=True)
class Setup:
    """What one comparison runs: the defaults are the GPU benchmark's."""

    device: str = "cuda"
    samples: int = 50_000
    epochs: int = 4
    batch: int = 256
    widths: tuple[int, ...] = (64, 128, 256)
    blocks: tuple[int, ...] = (2, 2, 2)
    compile: bool = False
    repeats: int = 3


def synthetic(folder: Path, samples: int) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, size=samples)
    patterns = rng.normal(size=(CLASSES, 3, 32, 32)).astype(np.float32)
    x = (patterns[y] + rng.normal(scale=2.0, size=(samples, 3, 32, 32)).astype(np.float32)).astype(np.float32)
    path = folder / "synthetic.npz"
    np.savez(path, X=x, y=y)
    return path


def recipe_text(path: Path, setup: Setup) -> str:
    accelerator = "gpu" if setup.device == "cuda" else "cpu"
    return f"""
name: gpu-resnet
task: classification
data: {{kind: arrays, path: {path}, batch_size: {setup.batch}, val_fraction: 0.02, test_fraction: 0.02,
        on_device: true}}
model: {{arch: resnet, widths: {list(setup.widths)}, blocks: {list(setup.blocks)}}}
optim: {{name: adamw, lr: 0.001}}
trainer: {{max_epochs: {setup.epochs}, precision: bf16-mixed, channels_last: true,
           compile: {str(setup.compile).lower()}, accelerator: {accelerator}, devices: 1, monitor: val/acc,
           early_stopping: null}}
tracking: {{log_model: false}}
"""


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def hand_loop(recipe: Any, module: Any, setup: Setup) -> float:
    """Images per second of the plain loop: same model, data on the device, bf16 autocast, channels-last."""
    import torch
    import torch.nn.functional as F

    from dlkit import models
    from dlkit.tasks.optimizers import make_optimizer

    device = torch.device(setup.device)
    x, y = module.splits["train"]
    x = x.contiguous(memory_format=torch.channels_last).to(device)
    y = y.to(device)
    net = models.build(recipe.model, module.info).to(device)
    net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if setup.compile:
        net.compile()
    opt = make_optimizer(net.parameters(), recipe.optim, recipe.optim.lr)
    net.train()
    rates = []
    for epoch in range(setup.epochs):
        _sync(setup.device)
        start = time.perf_counter()
        order = torch.randperm(len(x), device=device)
        for i in range(0, len(x), setup.batch):
            idx = order[i : i + setup.batch]
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(setup.device)
        if epoch:
            rates.append(len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


def dlkit_run(recipe: Any, folder: Path, train_rows: int) -> tuple[float, str]:
    from dlkit.training import run

    result = run(recipe, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", say=lambda _: None, progress_bar=False)
    # epoch wall time includes the (2 %) validation pass and the epoch-end sync: a conservative count
    rates = [train_rows / row["perf/epoch_seconds"] for row in result.history[1:]]
    return statistics.median(rates), f"test/acc {result.test_metrics.get('test/acc', float('nan')):.3f}"


def measure(setup: Setup) -> list[Row]:
    from dlkit import data
    from dlkit.process import heavy_imports
    from dlkit.recipe import load_text

    heavy_imports()
    hand, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        recipe = load_text(recipe_text(synthetic(folder, setup.samples), setup))
        module: Any = data.build(recipe)  # the hand loop's tensors: an in-memory module's splits
        for _ in range(setup.repeats):
            hand.append(hand_loop(recipe, module, setup))
            rate, note = dlkit_run(recipe, folder, module.info.split_sizes["train"])
            ours.append(rate)
    ratio = paired_ratio(ours, hand)
    label = "compiled" if setup.compile else "eager"
    on_gpu = setup.device == "cuda"
    where = "GPU" if on_gpu else "CPU check, not a measurement:"
    return [
        Row(f"{where} resnet bf16 {label} vs hand loop ({note})", f"{statistics.median(ours):,.0f} img/s",
            f"{statistics.median(hand):,.0f} img/s", f"{ratio:.2f}x", ">= 0.9x" if on_gpu else "",
            ratio >= 0.9 if on_gpu else None)
    ]  # fmt: skip


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def main(argv: list[str] | None = None) -> None:
    defaults = Setup()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="torch.compile the model in both loops")
    parser.add_argument("--device", choices=["cuda", "cpu"], default=defaults.device)
    parser.add_argument("--samples", type=int, default=defaults.samples)
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="epochs per run (the first warms up)")
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--widths", type=_ints, default=defaults.widths, help="channels of each stage, e.g. 64,128,256")
    parser.add_argument("--blocks", type=_ints, default=defaults.blocks, help="blocks of each stage, e.g. 2,2,2")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="alternations of the two loops")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch warms up and is not counted")
    import torch

    if args.device == "cuda":
        if not torch.cuda.is_available():
            parser.error("no CUDA GPU here; --device cpu runs the benchmark's code on the CPU as a check")
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    setup = Setup(args.device, args.samples, args.epochs, args.batch, args.widths, args.blocks, args.compile,
                  args.repeats)  # fmt: skip
    print_table(measure(setup))


if __name__ == "__main__":
    main()
