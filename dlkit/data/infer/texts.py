"""Texts: a table with a free-text column, read by a recurrent net over its words."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.infer import common, targets
from dlkit.data.infer.common import Draft


def text(path: Path, name: str, frame: Any, target: str, text_col: str) -> Draft:
    from dlkit.data.text import tokenize

    d = Draft(common.base(name, path))
    texts = frame[text_col].dropna().astype(str)
    lengths = np.asarray([len(tokenize(t, "word", True)) for t in texts.head(20_000)])
    max_length = int(min(512, max(16, 2 ** math.ceil(math.log2(max(1.0, np.percentile(lengths, 95)))))))
    others = [c for c in frame.columns if c not in (target, text_col)]
    d.summary.append(f"{path.name}: {len(frame)} rows; texts in '{text_col}', {np.median(lengths):.0f} words median")
    if others:
        d.notes.append(
            f"data.kind text reads '{text_col}' only; not used: {', '.join(map(str, others[:8]))}"
            + (" ..." if len(others) > 8 else "")
        )
    task_kind, task = targets.target(d, frame[target])
    data: dict[str, Any] = {
        "kind": "text",
        "path": str(path),
        "text_column": text_col,
        "target": target,
        "tokenizer": "word",
        "min_freq": 2 if len(frame) > 2000 else 1,
        "max_length": max_length,
        "batch_size": 64,
    }
    if task_kind == "classification":
        data["rare_classes"] = "drop"
    d.note(("data", "max_length"), f"95 % of the texts have at most {int(np.percentile(lengths, 95))} tokens")
    monitor = "val/f1_macro" if task_kind == "classification" else "val/loss"
    d.recipe.update(
        task=task,
        data=data,
        model={
            "arch": "gru",
            "embedding_dim": 64,
            "hidden_size": 64,
            "bidirectional": True,
            "pooling": "max",
            "dropout": 0.2,
        },
        optim=common.optim(3e-3, 0.0),
        trainer=common.trainer(30, 5, monitor),
        tracking={"experiment": "dlkit-text"},
        tune=common.tune(
            {
                "optim.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
                "model.hidden_size": {"type": "categorical", "choices": [32, 64, 128]},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
            },
            monitor,
        ),
    )
    return d
