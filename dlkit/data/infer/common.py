"""What every inferred recipe shares: the draft with its comments and notes, and the training defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the smallest class under this share of the largest: the loss weighs classes by inverse frequency
IMBALANCE = 1 / 3


@dataclass
class Draft:
    """An inferred recipe (plain data), its comments, the data summary and the notes on what was chosen."""

    recipe: dict[str, Any]
    comments: dict[tuple[str, ...], str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, keys: tuple[str, ...], comment: str) -> None:
        self.comments[keys] = comment


def base(name: str, source: Path) -> dict[str, Any]:
    return {"name": name, "description": f"Inferred by dlkit from {source.name}."}


def width(rows: int) -> list[int]:
    if rows < 1000:
        return [64, 32]
    if rows < 10_000:
        return [128, 64]
    return [256, 128]


def batch(rows: int) -> int:
    return 32 if rows < 2000 else 64 if rows < 20_000 else 256


def optim(lr: float, weight_decay: float) -> dict[str, Any]:
    return {
        "name": "adamw",
        "lr": lr,
        "weight_decay": weight_decay,
        "scheduler": {"name": "plateau", "patience": 5, "gamma": 0.5},
    }


def trainer(epochs: int, patience: int, monitor: str = "val/loss") -> dict[str, Any]:
    return {"max_epochs": epochs, "monitor": monitor, "early_stopping": {"patience": patience}, "seed": 0}


def tune(space: dict[str, Any], metric: str = "val/loss") -> dict[str, Any]:
    return {"space": space, "metric": metric, "sampler": "tpe", "pruner": "median", "trials": 20}
