"""Tables: each column's role (numbers, categories, dates, free text, dropped) and the table recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlkit.data import columns as cols
from dlkit.data.files import EXTENSIONS
from dlkit.data.infer import common, targets
from dlkit.data.infer.common import Draft
from dlkit.data.splits import SPLITS
from dlkit.errors import DataError

#: a category column with more distinct values than this and than half the rows names rows, not groups
MAX_CATEGORY_SHARE = 0.5


def column_roles(
    frame: Any, target: str | list[str], d: Draft, split: str | None = None, folder: Path | None = None
) -> dict[str, list[str]]:
    """Each column but the target (or targets) in one role: numeric, categorical, date, text, image (paths of image
    files, relative to `folder`), dropped, or the split (`split`, or the first column whose values are
    exactly train, val and test)."""
    roles: dict[str, list[str]] = {
        k: [] for k in ("numeric", "boolean", "categorical", "date", "text", "image", "drop", "split")
    }
    n = len(frame)
    targets_ = target if isinstance(target, list) else [target]
    for name in frame.columns:
        if name in targets_:
            continue
        s = frame[name]
        present = s.dropna()
        if name == split or (split is None and not roles["split"] and marks_splits(present)):
            roles["split"].append(name)
        elif present.empty:
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' is empty in every row: dropped")
        elif present.nunique() == 1:
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' holds one value ({present.iloc[0]!r}): dropped")
        elif folder is not None and _image_paths(present, folder):
            roles["image"].append(name)
        elif cols.is_identifier(s, str(name)):
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' has a distinct value in every row (an identifier): dropped")
        elif cols.looks_like_dates(s):
            roles["date"].append(name)
        elif cols.is_numeric(s):
            roles["boolean" if present.nunique() == 2 else "numeric"].append(name)
        elif cols.is_free_text(s):
            roles["text"].append(name)
        elif present.nunique() > max(100, MAX_CATEGORY_SHARE * n):
            roles["drop"].append(name)
            d.notes.append(f"column '{name}' has {present.nunique()} distinct values in {n} rows: dropped")
        else:
            roles["boolean" if present.nunique() == 2 else "categorical"].append(name)
    return roles


def _image_paths(present: Any, folder: Path) -> bool:
    return names_files(present, folder, EXTENSIONS)


def names_files(present: Any, folder: Path, extensions: set[str], sample: int = 20) -> bool:
    """Text that names files with one of `extensions`, the first `sample` of which exist."""
    if cols.is_numeric(present) or not len(present):
        return False
    values = present.astype(str).str.strip()
    if not values.str.lower().str.endswith(tuple(extensions)).all():
        return False
    return all((folder / Path(v).expanduser()).is_file() for v in values.iloc[:sample])


def image_settings(frame: Any, column: str, folder: Path) -> dict[str, Any]:
    """data.image_encoder for a column's images, from its first: gray or colour, and a size up to 64."""
    from PIL import Image

    with Image.open(folder / Path(str(frame[column].dropna().iloc[0]).strip()).expanduser()) as first:
        side, mode = max(first.size), first.mode
    return {
        "size": int(min(max(side, 8), 64)),
        "color": "gray" if mode in ("1", "L", "LA", "I", "I;16", "F") else "rgb",
    }


def marks_splits(present: Any) -> bool:
    if cols.is_numeric(present) or len(present) == 0:
        return False
    values = set(present.astype(str).str.strip().str.lower().unique())
    return values == set(SPLITS)


def missing_cells(frame: Any, used: list[str]) -> tuple[int, list[str]]:
    counts = frame[used].isna().sum()
    return int(counts.sum()), [f"{c} ({n})" for c, n in counts[counts > 0].sort_values(ascending=False).items()]


def table(path: Path, name: str, frame: Any, target: str | list[str], split: str | None = None) -> Draft:
    """The table recipe for one target column, or for several (task multi)."""
    d = Draft(common.base(name, path))
    roles = column_roles(frame, target, d, split, path.parent)
    categorical = [c for c in roles["categorical"] + roles["boolean"] if not cols.is_numeric(frame[c])]
    used = roles["numeric"] + roles["boolean"] + roles["categorical"] + roles["date"] + roles["text"] + roles["image"]
    if not used:
        raise DataError(f"{path.name}: no column besides the target can be an input", hint="check the file")
    rows = len(frame)
    d.summary.append(f"{path.name}: {rows} rows, {frame.shape[1]} columns")
    d.summary.append(
        "inputs: "
        + ", ".join(
            f"{len(roles[k])} {k}" for k in ("numeric", "boolean", "categorical", "date", "text", "image") if roles[k]
        )
        + (f"; dropped {len(roles['drop'])}" if roles["drop"] else "")
    )
    if rows < 500:
        d.warnings.append(f"{rows} rows: test metrics of so small a table vary from one split to the next")
    missing, where = missing_cells(frame, used)
    if missing > 0.3 * rows * len(used):
        d.warnings.append(f"{missing / (rows * len(used)):.0%} of the input cells are empty and get imputed")
    if missing:
        d.summary.append(
            f"missing cells: {missing} ({missing / (rows * len(used)):.1%}), in {', '.join(where[:5])}"
            + (" ..." if len(where) > 5 else "")
        )
    task_kind, task = several(d, frame, target) if isinstance(target, list) else targets.target(d, frame[target])
    data: dict[str, Any] = {
        "kind": "csv",
        "path": str(path),
        **({} if isinstance(target, list) else {"target": target}),
        "categorical": categorical,
        "dates": roles["date"],
        "drop": roles["drop"],
        "impute": "median",
        "numeric_encoding": "piecewise",
        "batch_size": common.batch(rows),
    }
    if task_kind == "classification" or any(t["kind"] == "classification" for t in task.get("targets", [])):
        data["rare_classes"] = "drop"
    if roles["split"]:
        data["split_column"] = marks = roles["split"][0]
        counts = frame[marks].astype(str).str.strip().str.lower().value_counts()
        d.summary.append(f"splits: as column '{marks}' marks them (" + ", ".join(
            f"{s} {int(counts.get(s, 0))}" for s in SPLITS) + ")")  # fmt: skip
        d.note(("data", "split_column"), "each row's split as the file marks it (train, val, test)")
    d.note(("data", "categorical"), "text columns with few values: one 0/1 input per category")
    if roles["date"]:
        d.note(("data", "dates"), "expanded into year, month, day, day of week, day of year")
    if roles["text"]:
        data["text"] = roles["text"]
        data["text_encoder"] = {"ngrams": 2}
        d.note(("data", "text"), "free text: each column's words, averaged as embeddings, beside the other inputs")
        d.note(("data", "text_encoder", "ngrams"), "pairs of neighbouring words too: 'not good' apart from 'good'")
    if roles["image"]:
        data["images"] = roles["image"]
        data["image_encoder"] = image_settings(frame, roles["image"][0], path.parent)
        d.note(("data", "images"), "paths of image files: each image read by a small CNN beside the other inputs")
    d.note(("data", "impute"), "missing numbers: the training median; categories: the most frequent")
    d.note(("data", "numeric_encoding"), "one input per quantile bin: thresholds as a tree finds them, robust to skew")
    hidden = common.width(rows)
    d.note(("model", "hidden"), f"sized for {rows} rows")
    # weighted classes: the loss is not what is wanted, the balance of precision and recall is
    monitor = "val/f1_macro" if "class_weights" in task else "val/loss"
    if "class_weights" in task:
        d.note(("trainer", "monitor"), "imbalanced classes: keep the epoch with the best macro F1")
    d.recipe.update(
        task=task,
        data=data,
        model={"arch": "mlp", "hidden": hidden, "dropout": 0.1},
        optim=common.optim(1e-3, 1e-4),
        trainer=common.trainer(200, 20, monitor),
        tracking={"experiment": "dlkit-tables"},
        tune=common.tune(
            {
                "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "optim.weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
                "model.hidden": {"type": "categorical", "choices": [[64], [128, 64], [256, 128], [256, 128, 64]]},
                "model.dropout": {"type": "float", "low": 0.0, "high": 0.4},
            },
            monitor,
        ),
    )
    return d


def several(d: Draft, frame: Any, columns: list[str]) -> tuple[str, dict[str, Any]]:
    """Task multi over `columns`: each target's kind (and a regression's transform) as for one target."""
    specs = []
    for name in columns:
        kind, task = targets.target(d, frame[name])
        spec = {"column": name, "kind": kind}
        if kind == "regression":
            spec["target_transform"] = task["target_transform"]
        specs.append(spec)
    # a note on a single target's task field would point at nothing in task multi
    d.comments = {k: v for k, v in d.comments.items() if k[0] != "task"}
    d.note(("task", "targets"), "one network for every target; val/loss sums their losses (weight 1 each)")
    return "multi", {"kind": "multi", "targets": specs}
