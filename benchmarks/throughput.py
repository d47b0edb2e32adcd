"""Training throughput of `dlkit train` against a hand-written PyTorch loop and plain Lightning, and the
cost of MLflow tracking.

Same model (built by dlkit from the recipe), same training split, batch size, optimiser and precision.
Samples per second are counted over the training part of each of epochs 2..E (the first warms
up) and the median epoch is kept, the same statistic for all three (a machine that pauses a
process now and then hits one epoch, not the figure); each measurement alternates with its
baselines, and the table reports the median rates and the median of each repeat's own ratio.

Targets: digits-cnn >= 0.9x the hand loop; digits-mlp >= 0.6x the hand loop (and >= 1.7x plain
Lightning); tracking adds at most 5 % to the time of the epochs. Whole epochs (from one epoch's start
to the next's in a tracked 22-epoch `dlkit train`, validation, metrics, checkpoints and tracking
included, median of epochs 2..21, against the median epoch of a hand loop that also runs its
validation pass): digits-mlp >= 0.7x, digits-cnn >= 0.9x, dlkit's fixed cost per epoch, and what the
run costs outside its epochs (setup, the test pass, reports, the model). Timing each epoch, rather
than a 22-epoch run against a 2-epoch one, keeps the spread of the per-run costs (the reports'
figures alone vary by a few tenths of a second) out of the per-epoch figure.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import Row, hand_epoch, paired_ratio, print_table

EPOCHS = 12


def _setup(name: str, extra: list[str]) -> tuple[Any, Any, Any]:
    from dlkit import data, models
    from dlkit.recipe import load

    recipe = load(name, ["trainer.early_stopping=null", f"trainer.max_epochs={EPOCHS}", *extra])
    module = data.build(recipe)
    backbone = models.build(recipe.model, module.info)
    return recipe, module, backbone


def hand_loop(name: str, extra: list[str] | None = None, epochs: int = EPOCHS) -> float:
    """The floor: a loop over shuffled index slices, nothing else; samples per second, median of epochs 2..E."""
    import torch.nn.functional as F

    from dlkit.tasks.optimizers import make_optimizer

    recipe, module, backbone = _setup(name, extra or [])
    x, y = module.splits["train"][:2]
    loss_of = F.cross_entropy if recipe.task.kind == "classification" else F.mse_loss
    optimizer = make_optimizer(backbone.parameters(), recipe.optim, recipe.optim.lr)
    backbone.train()
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        hand_epoch(backbone, optimizer, x, y, recipe.data.batch_size, loss_of)
        rates.append(len(x) / (time.perf_counter() - start))
    return statistics.median(rates[1:])


def plain_lightning(name: str) -> float:
    """What a hand-rolled Lightning script does: a DataLoader over a TensorDataset and self.log every step."""
    import lightning as L
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from dlkit.process import silence_libraries
    from dlkit.tasks.optimizers import make_optimizer

    silence_libraries()
    recipe, module, backbone = _setup(name, [])
    x, y = module.splits["train"]

    class Plain(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            xb, yb = batch
            loss = F.cross_entropy(self.backbone(xb), yb)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return make_optimizer(self.parameters(), recipe.optim, recipe.optim.lr)

    times: list[float] = []

    class Clock(L.Callback):
        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            times.append(time.perf_counter() - self.start)

    loader = DataLoader(TensorDataset(x, y), batch_size=recipe.data.batch_size, shuffle=True)
    trainer = L.Trainer(
        max_epochs=EPOCHS, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[Clock()], accelerator="cpu",
    )  # fmt: skip
    torch.manual_seed(0)
    trainer.fit(Plain(), loader)
    return statistics.median(len(x) / t for t in times[1:])


def dlkit_run(name: str, tracking: bool = True) -> tuple[float, float]:
    """(samples per second over epochs 2..E, seconds of all epochs) of `dlkit train`, in process."""
    from dlkit.recipe import load
    from dlkit.training import run

    with tempfile.TemporaryDirectory() as tmp:
        recipe = load(
            name,
            [
                "trainer.early_stopping=null",
                f"trainer.max_epochs={EPOCHS}",
                f"tracking.enabled={str(tracking).lower()}",
            ],
        )
        result = run(
            recipe, tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}", say=lambda _: None, progress_bar=False
        )
    rates = [row["perf/train_samples_per_sec"] for row in result.history[1:]]
    return statistics.median(rates), sum(row["perf/epoch_seconds"] for row in result.history)


def hand_epochs(name: str, epochs: int) -> float:
    """Median seconds of whole epochs 2..E of the hand loop: training, then a validation pass with its loss."""
    import torch
    import torch.nn.functional as F

    from dlkit.tasks.optimizers import make_optimizer

    recipe, module, backbone = _setup(name, [])
    x, y = module.splits["train"]
    vx, vy = module.splits["val"]
    optimizer = make_optimizer(backbone.parameters(), recipe.optim, recipe.optim.lr)
    bs = recipe.data.batch_size
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        backbone.train()
        hand_epoch(backbone, optimizer, x, y, bs, F.cross_entropy)
        backbone.eval()
        with torch.no_grad():
            total = sum(float(F.cross_entropy(backbone(vx[i : i + bs]), vy[i : i + bs], reduction="sum"))
                        for i in range(0, len(vx), bs))  # fmt: skip
        assert total == total  # the validation loss is read, as a run reads it
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds[1:])


@contextlib.contextmanager
def epoch_clock() -> Iterator[list[float]]:
    """The start time of every training epoch of the runs inside the block (dlkit's epoch recorder, timed)."""
    from dlkit.training.callbacks import EpochRecorder

    starts: list[float] = []
    original = EpochRecorder.on_train_epoch_start

    def timed(self: EpochRecorder, trainer: Any, pl_module: Any) -> None:
        starts.append(time.perf_counter())
        original(self, trainer, pl_module)

    EpochRecorder.on_train_epoch_start = timed  # type: ignore[method-assign]
    try:
        yield starts
    finally:
        EpochRecorder.on_train_epoch_start = original  # type: ignore[method-assign]


def dlkit_epochs(name: str, epochs: int) -> tuple[float, float]:
    """`dlkit train` with `epochs` epochs, tracked, in process as a user runs it: (median seconds of whole
    epochs 2..E-1, from one epoch's start to the next's, seconds of the run outside its epochs)."""
    from dlkit.recipe import load
    from dlkit.training import run

    with tempfile.TemporaryDirectory() as tmp, epoch_clock() as starts:
        recipe = load(name, ["trainer.early_stopping=null", f"trainer.max_epochs={epochs}"])
        start = time.perf_counter()
        run(recipe, tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}", say=lambda _: None, progress_bar=False)
        wall = time.perf_counter() - start
    epoch = statistics.median(b - a for a, b in itertools.pairwise(starts[1:]))
    # outside the epochs: the run less the span of epochs 1..E-1 and the last epoch (as long as the median)
    return epoch, wall - (starts[-1] - starts[0]) - epoch


WHOLE_EPOCHS = 22


def whole_epoch_rows(repeats: int) -> list[Row]:
    """Whole epochs as a user waits for them (training, validation, metrics, checkpoints, tracking), and
    what a run costs outside its epochs (setup, the test pass, reports, the model)."""
    rows: list[Row] = []
    for name, target in (("digits-mlp", 0.7), ("digits-cnn", 0.9)):
        ours, hand, outside = [], [], []
        for _ in range(repeats):
            epoch, rest = dlkit_epochs(name, WHOLE_EPOCHS)
            ours.append(epoch)
            outside.append(rest)
            hand.append(hand_epochs(name, WHOLE_EPOCHS))
        o, h = statistics.median(ours), statistics.median(hand)
        ratio = paired_ratio(hand, ours)  # a rate ratio: the hand loop's time over dlkit's
        rows.append(Row(f"whole epochs: {name} vs hand loop with validation", f"{o * 1000:.1f} ms/epoch",
                        f"{h * 1000:.1f} ms/epoch", f"{ratio:.2f}x", f">= {target}x", ratio >= target))  # fmt: skip
        rows.append(Row(f"whole epochs: {name}, dlkit's fixed cost per epoch", f"{(o - h) * 1000:.1f} ms",
                        "", "", "", None))  # fmt: skip
        rows.append(Row(f"whole runs: {name}, dlkit's cost outside the {WHOLE_EPOCHS} epochs",
                        f"{statistics.median(outside):.2f} s", "", "", "", None))  # fmt: skip
    return rows


def measure(repeats: int = 5) -> list[Row]:
    from dlkit.process import heavy_imports

    heavy_imports()
    rows: list[Row] = []
    for name, target in (("digits-cnn", 0.9), ("digits-mlp", 0.6)):
        hand, plain, ours = [], [], []
        for _ in range(repeats):  # alternate, so that machine noise hits all three alike
            hand.append(hand_loop(name))
            plain.append(plain_lightning(name))
            ours.append(dlkit_run(name)[0])
        h, p, d = statistics.median(hand), statistics.median(plain), statistics.median(ours)
        # the ratio is the median of each repeat's own ratio: a machine that is faster for a while
        # speeds up the three runs of one repeat alike, and the pairing cancels it
        vs_hand = paired_ratio(ours, hand)
        vs_plain = paired_ratio(ours, plain)
        rows.append(
            Row(f"throughput: {name} vs hand loop", f"{d:,.0f}/s", f"{h:,.0f}/s", f"{vs_hand:.2f}x", f">= {target}x",
                vs_hand >= target)
        )  # fmt: skip
        rows.append(
            Row(f"throughput: {name} vs plain Lightning", f"{d:,.0f}/s", f"{p:,.0f}/s", f"{vs_plain:.2f}x",
                ">= 1.7x" if name == "digits-mlp" else "", vs_plain >= 1.7 if name == "digits-mlp" else None)
        )  # fmt: skip
    rows += whole_epoch_rows(repeats)
    for name in ("digits-cnn", "digits-mlp"):
        tracked, untracked = [], []
        for _ in range(repeats):
            tracked.append(dlkit_run(name, tracking=True)[1])
            untracked.append(dlkit_run(name, tracking=False)[1])
        t, u = statistics.median(tracked), statistics.median(untracked)
        cost = paired_ratio(tracked, untracked)
        rows.append(
            Row(f"tracking: {name} epochs with MLflow vs without", f"{t:.2f} s", f"{u:.2f} s", f"{cost:.3f}x",
                "<= 1.05x", cost <= 1.05)
        )  # fmt: skip
    return rows


if __name__ == "__main__":
    print_table(measure())
