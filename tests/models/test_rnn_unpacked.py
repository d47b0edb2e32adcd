"""The graph-friendly path of recurrent networks over token ids gives what packing gives."""

from __future__ import annotations

import itertools

import pytest
import torch

from dlkit.models.rnn import Recurrent
from dlkit.recipe.architectures import ARCHITECTURES


@pytest.mark.parametrize(
    ("arch", "bidirectional", "layers", "pooling"),
    list(itertools.product(["gru", "lstm", "rnn"], [False, True], [1, 2], ["last", "mean", "max"])),
)
def test_the_unpacked_path_equals_packing(arch: str, bidirectional: bool, layers: int, pooling: str) -> None:
    torch.manual_seed(0)
    params = ARCHITECTURES.get(arch).params.model_validate(
        {"arch": arch, "embedding_dim": 8, "hidden_size": 6, "bidirectional": bidirectional,
         "num_layers": layers, "pooling": pooling, "hidden": [5]}
    )  # fmt: skip
    model = Recurrent(params, arch, 0, 3, vocab_size=20).eval()
    x = torch.randint(1, 20, (7, 9))
    for row, length in enumerate([9, 1, 4, 0, 6, 2, 8]):  # full, one word, empty, ...
        x[row, length:] = 0
    with torch.no_grad():
        packed = model(x)
        model.export_mode = True
        unpacked = model(x)
    torch.testing.assert_close(unpacked, packed, atol=1e-6, rtol=1e-5)
    # padding after a row's words changes nothing: the same rows, four more padding steps
    with torch.no_grad():
        longer = model(torch.cat([x, torch.zeros(7, 4, dtype=x.dtype)], dim=1))
    torch.testing.assert_close(longer, packed, atol=1e-6, rtol=1e-5)
