"""No per-step host synchronisation: the training loop never reads a value back to the host step by step.

On a GPU, reading a value back (`.item()`, `float(t)`, `if t:`) or copying a tensor to the host
(`.cpu()`, `.tolist()`, `.numpy()`) waits for every queued kernel, so one such call per step stalls
the device every step. This counts them on the CPU, where they run the same code: every value read
is one `aten._local_scalar_dense` call whatever the device, and the copies are the tensor methods.
A run with four times as many steps per epoch (batches of 16 against 64) must make no more of them;
the larger models train on a share of their training split (`data.train_fraction`), which changes
no code path, only the number of steps.

Two reads are not syncs and are left out: Adam's and AdamW's step counters, which torch keeps on
the CPU even when the model is on a GPU (unless `capturable=True`); and, for recurrent networks
over text, the sequence lengths that `pack_padded_sequence` needs on the CPU (packing keeps the
padding out of the result; that one read per step is the price, stated in docs/pages/performance.md).
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from dlkit.recipe import load
from dlkit.training import run
from tests.conftest import SHARED_DATA

COPIES = ("cpu", "tolist", "numpy")
SMS = [f"data.path={SHARED_DATA / 'sms-spam.tsv'}", "data.max_length=32", "data.train_fraction=0.1"]
SHARE = "data.train_fraction=0.25"


def _site() -> str:
    """Where the read was asked for: the innermost frame outside torch."""
    frame = [f for f in traceback.extract_stack()[:-2] if "/torch/" not in f.filename][-1]
    return f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"


class HostReads(TorchDispatchMode):
    """Counts the values read back to the host, by the line that asked for them."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is torch.ops.aten._local_scalar_dense.default and not any(
            "torch/optim/" in frame.filename for frame in traceback.extract_stack()
        ):  # an optimizer's step counter lives on the CPU
            self.sites[f"read {_site()}"] += 1
        return func(*args, **(kwargs or {}))


def _counting(method: Callable[..., Any], name: str, sites: Counter[str]) -> Callable[..., Any]:
    def counted(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        sites[f"{name} {_site()}"] += 1
        return method(self, *args, **kwargs)

    return counted


def host_traffic(
    recipe_name: str, batch_size: int, overrides: list[str], tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> Counter[str]:
    """Every host read and copy of a 3-epoch run, by call site."""
    recipe = load(
        recipe_name,
        ["trainer.early_stopping=null", "trainer.max_epochs=3", f"data.batch_size={batch_size}",
         "data.eval_batch_size=512", "trainer.num_threads=2", *overrides],
    )  # fmt: skip
    reads = HostReads()
    with monkeypatch.context() as patch:
        for name in COPIES:
            patch.setattr(torch.Tensor, name, _counting(getattr(torch.Tensor, name), name, reads.sites))
        with reads:
            result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    assert [row["epoch"] for row in result.history] == [0, 1, 2]
    return reads.sites


def _check(recipe_name: str, overrides: list[str], tracking_uri: str, monkeypatch: pytest.MonkeyPatch,
           packed: bool = False) -> None:  # fmt: skip
    few = host_traffic(recipe_name, 64, overrides, tracking_uri, monkeypatch)
    many = host_traffic(recipe_name, 16, overrides, tracking_uri, monkeypatch)
    grown = {site: many[site] - few[site] for site in many if many[site] > few[site]}
    assert any(site.startswith("read ") for site in few)  # the counting sees the per-epoch reads
    if packed:  # the lengths for packing: one read and one copy of them per forward pass
        assert {site.split(":")[0] for site in grown} == {"read rnn.py", "cpu rnn.py"}, grown
        grown = {site: n for site, n in grown.items() if "rnn.py" not in site}
    # only the best checkpoint's writes, at most one an epoch, depend on how validation went
    assert sum(grown.values()) <= 3, f"read back more often with more steps: {grown}"


def test_more_steps_read_no_more_values_back(workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast representative: digits-mlp with its defaults (on a quarter of its training split)."""
    _check("digits-mlp", [SHARE], tracking_uri, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recipe_name", "overrides"),
    [
        ("digits-mlp", ["trainer.steps_per_call=1", SHARE]),
        ("digits-mlp", ["trainer.precision=bf16-mixed", SHARE]),
        ("diabetes-mlp", []),
        ("digits-autoencoder", [SHARE]),
        ("digits-gan", [SHARE]),
        ("digits-rows-lstm", ["model.hidden_size=16", SHARE]),
    ],
)
def test_more_steps_read_no_more_values_back_in_other_tasks_and_levers(
    workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch, recipe_name: str, overrides: list[str]
) -> None:
    """digits: 20 steps an epoch against 79; diabetes: 5 against 18."""
    _check(recipe_name, overrides, tracking_uri, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recipe_name", "overrides"),
    [
        ("digits-cnn", [SHARE]),
        ("digits-resnet", [SHARE]),
        ("digits-rows-transformer", [SHARE]),
        ("sunspots-gru", [f"data.path={SHARED_DATA / 'monthly-sunspots.csv'}", SHARE]),
        ("sms-spam-transformer", [*SMS, "model.d_model=16", "model.ff_dim=32", "model.layers=1"]),
        ("sms-spam-gru", [*SMS, "model.hidden_size=16", "model.embedding_dim=16"]),
    ],
)
def test_more_steps_read_no_more_values_back_in_larger_models(
    workdir: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch, recipe_name: str, overrides: list[str]
) -> None:
    _check(recipe_name, overrides, tracking_uri, monkeypatch, packed=recipe_name == "sms-spam-gru")
