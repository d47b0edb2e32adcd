"""Run names that say what differs: the recipe and its overrides, unique within the experiment."""

from __future__ import annotations

from typing import Any

#: the longest name built from overrides; MLflow's runs table shows about this much
MAX_READABLE = 60


def readable(base: str, overrides: list[str] | tuple[str, ...]) -> str:
    """`base` followed by the overrides, each key by its last part when that is unambiguous
    (`iris-mlp lr=0.01 hidden=[64]`), cut at MAX_READABLE characters."""
    pairs = [o.split("=", 1) for o in overrides if "=" in o]
    lasts = [k.rsplit(".", 1)[-1] for k, _ in pairs]
    parts = [
        f"{last if lasts.count(last) == 1 else key}={value}".replace("'", "").replace('"', "")
        for (key, value), last in zip(pairs, lasts, strict=True)
    ]
    name = " ".join([base, *parts])
    return name if len(name) <= MAX_READABLE else name[: MAX_READABLE - 1].rstrip() + "…"


def unique(client: Any, experiment_id: str, name: str) -> str:
    """`name`, or `name-2`, `name-3`, ... when runs of the experiment already carry it."""
    if "'" in name:  # not expressible in a filter string; `_` and `%` only widen the LIKE below
        return name
    taken: set[str] = set()
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], f"attributes.run_name LIKE '{name}%'", max_results=1000, page_token=token
        )
        taken.update(r.info.run_name for r in page)
        token = page.token
        if not token:
            break
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"
