"""The optimiser of a recipe's `optim` section."""

from __future__ import annotations

from typing import Any

import torch


def make_optimizer(params: Any, o: Any, lr: float) -> torch.optim.Optimizer:
    """The optimiser named in the recipe's `optim` section, over `params`."""
    optimizers = {
        "sgd": lambda: torch.optim.SGD(
            params, lr=lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay
        ),
        "adam": lambda: torch.optim.Adam(params, lr=lr, betas=o.betas, weight_decay=o.weight_decay),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, betas=o.betas, weight_decay=o.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay),
    }
    return optimizers[o.name]()  # type: ignore[no-any-return]
