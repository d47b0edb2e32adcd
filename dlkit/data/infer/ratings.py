"""The recipe of a table of interactions: `dlkit train FILE --user COL --item COL [--target RATING]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dlkit.data.infer import common
from dlkit.data.infer.common import Draft
from dlkit.errors import DataError

#: column names that read as the time of an interaction
TIME_WORDS = ("time", "date", "timestamp", "when")


def _time_column(frame: pd.DataFrame, taken: set[str]) -> str | None:
    for name in frame.columns:
        if name in taken or not any(w in str(name).lower() for w in TIME_WORDS):
            continue
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            return str(name)
        if pd.to_datetime(values.dropna().head(200), errors="coerce", format="mixed").notna().all():
            return str(name)
    return None


def _describing(frame: pd.DataFrame, key: str, candidates: list[str]) -> list[str]:
    """The candidate columns that hold one value per `key` and fewer values than half the keys (they
    describe the user or the item, as a name or title does not)."""
    sample = frame.head(50_000)
    keys = sample[key].nunique()
    return [
        c
        for c in candidates
        if sample[c].nunique() < keys / 2 and sample.groupby(key)[c].nunique(dropna=False).max() <= 1
    ]


def ratings(path: Path, name: str, frame: pd.DataFrame, user: str, item: str, target: str | None) -> Draft:
    """Matrix factorisation with a ranking head, split per user; a numeric `target` is the rating."""
    d = Draft(common.base(name, path))
    if user == item:
        raise DataError(f"--item: '{item}' is the --user column too; give the column of items")
    if target is not None and not pd.api.types.is_numeric_dtype(frame[target]):
        shown = frame[target].dropna().astype(str).head(1).tolist()
        raise DataError(
            f"--target: column '{target}' holds {shown[0]!r}, not ratings (numbers)" if shown
            else f"--target: column '{target}' is empty",
            hint="leave --target out for implicit feedback (each row an interaction)",
        )  # fmt: skip
    rated = "" if target is None else f", rated in '{target}'"
    d.summary.append(f"{path.name}: {len(frame)} interactions of {frame[user].nunique()} users with "
                     f"{frame[item].nunique()} items{rated}")  # fmt: skip
    taken = {user, item, *([target] if target else [])}
    time = _time_column(frame, taken)
    data: dict[str, Any] = {"kind": "ratings", "path": str(path), "user_column": user, "item_column": item}
    if target is not None:
        data["rating_column"] = target
    else:
        d.note(("data", "user_column"), "no --target: implicit feedback, each row an interaction (ranking only)")
    if time is not None:
        data["time_column"] = time
        d.note(("data", "time_column"), "when each interaction happened (split: time holds out the newest)")
    data.update(split="user", batch_size=1024 if len(frame) >= 20_000 else 256)
    d.note(("data", "split"), "a random share of each user's interactions is held out for validation and test")
    others = [str(c) for c in frame.columns if c not in taken and c != time]
    items_described = _describing(frame, item, others)
    if items_described:
        d.notes.append(f"column(s) {', '.join(items_described[:6])} describe the items: model.arch=two_tower "
                       f"data.item_features=[{','.join(items_described[:6])}] reads them")  # fmt: skip
    d.recipe = {
        **d.recipe,
        "task": {"kind": "recommendation", "k": 10, "negatives": 4},
        "data": data,
        "model": {"arch": "mf", "dim": 32, "reg": 0.1, "ranking_reg": 0.01},
        "optim": {"name": "adam", "lr": 0.005},
        "trainer": common.trainer(40, 5, "val/ndcg_at_k"),
        "tracking": {"experiment": "dlkit-recommendations"},
        "tune": common.tune(
            {
                "optim.lr": {"type": "float", "low": 1e-3, "high": 2e-2, "log": True},
                "model.dim": {"type": "categorical", "choices": [16, 32, 64]},
                "model.reg": {"type": "float", "low": 0.01, "high": 0.5, "log": True},
                "model.ranking_reg": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
            },
            "val/ndcg_at_k",
        ),
    }
    d.note(("model", "reg"), "L2 on the rating factors of each batch's users and items")
    d.note(("trainer", "monitor"), "the epoch whose top-10 lists best match the validation interactions")
    return d
