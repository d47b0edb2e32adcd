"""Tables from CSV/TSV files: column checks, leak-free imputation and category encoding, scaling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dlkit.data import table_images, table_targets, table_text
from dlkit.data.base import TensorDataModule, build_module
from dlkit.data.columns import calendar, category_codes, category_list, date_parts, group_labels
from dlkit.data.files import column, empty_columns, existing, missing_report, read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, first_rows, input_column, labels, numbers, row_ids
from dlkit.data.scaling import apply_scaler, fit_bins, piecewise
from dlkit.data.scaling_graph import GraphFront
from dlkit.data.splits import assign
from dlkit.data.table_graph import front
from dlkit.data.table_roles import listed, roles
from dlkit.errors import DataError
from dlkit.recipe.data_kinds import CsvData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section


def _impute_value(values: Any, how: str) -> Any:
    present = values.dropna()
    if how == "mean":
        return float(present.mean())
    if how == "median":
        return float(present.median())
    return present.mode().iloc[0]


def _numbers(frame: Any, numeric: list[str], dates: dict[str, list[str]]) -> tuple[Any, list[str]]:
    """The numeric columns and the calendar features of the date columns, as one float frame."""
    blocks = {name: pd.to_numeric(frame[name]).astype(np.float64) for name in numeric}
    for name, parts in dates.items():
        values = calendar(frame[name], parts)
        for j, part in enumerate(parts):
            blocks[f"{name}.{part}"] = pd.Series(values[:, j], index=frame.index)
    table = pd.DataFrame(blocks, index=frame.index)
    return table, list(table.columns)


def _check_finite(x: np.ndarray, names: list[str]) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise DataError(f"column '{names[col]}' has an infinite value in data row {row + 1}")
    too_large = np.abs(x) > np.finfo(np.float32).max
    if too_large.any():
        row, col = np.argwhere(too_large)[0]
        raise DataError(
            f"column '{names[col]}' holds {x[row, col]:g} in data row {row + 1}, beyond 32-bit floats",
            hint="rescale the column (e.g. to thousands), or list it in data.drop",
        )


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> TensorDataModule:
    """The DataModule of a CSV table."""
    p = section(recipe.data, CsvData)
    frame, path = read_table(p, header=p.header)
    targets = table_targets.target_columns(frame, p, recipe.task)
    notes: list[str] = []
    frame = table_targets.labelled(frame, targets, p, recipe.task, notes)
    groups = group_columns(frame, getattr(recipe.task, "report_by", []), "task.report_by")
    dropped = {column(frame, c, "data.drop") for c in p.drop}
    split_col = column(frame, p.split_column, "data.split_column") if p.split_column is not None else None
    if p.features is not None:
        features = [column(frame, c, "data.features") for c in p.features]
    else:
        features = [c for c in frame.columns if c not in dropped | {*targets, split_col}]
    fed = [c for c in targets if c in features]
    if fed:
        raise DataError(f"data.features: the target column '{fed[0]}' cannot also be a feature")
    if not features:
        raise DataError("data.features: no input columns left", hint="check data.drop and data.features")
    empty = empty_columns(frame, features)
    if empty:
        raise DataError(
            f"column(s) empty in every row: {', '.join(repr(c) for c in empty[:10])}",
            hint="list them in data.drop (dlkit init drops them for you)",
        )
    text_columns = listed(frame, p.text, "data.text", features, targets)
    image_columns = listed(frame, p.images, "data.images", features, targets)
    if set(text_columns) & set(image_columns):
        both = sorted(set(text_columns) & set(image_columns), key=str)[0]
        raise DataError(f"data.images: column '{both}' is also in data.text", hint="give each column one role")
    described = set(text_columns) | set(image_columns)
    numeric, categorical, date_columns = roles(frame, p, [c for c in features if c not in described], targets)

    y, class_names, target_infos = table_targets.values(frame, targets, recipe.task)
    by, by_names = table_targets.strata(y, target_infos)
    stratify = recipe.task.labelled or by_names is not None
    labels = frame[split_col].to_numpy() if split_col else None
    splits = assign(by, p, stratify=stratify, labels=labels, fold=fold, names=class_names or by_names)
    train = splits["train"]
    table_targets.fit(y, train, target_infos, recipe.task)
    dates = {name: list(p.date_parts or date_parts(frame[name].iloc[train])) for name in date_columns}
    table, numeric_names = _numbers(frame, numeric, dates)

    filled: dict[str, Any] = {}
    missing = missing_report(table, numeric_names) or missing_report(frame, categorical)
    if missing:
        if p.impute is None:
            raise DataError(missing, hint="set data.impute: mean, median or most_frequent, or clean the file")
        for name in numeric_names:
            if table[name].isna().any():
                filled[name] = _impute_value(table[name].iloc[train], p.impute)
        for name in categorical:
            if frame[name].isna().any():
                filled[name] = _impute_value(frame[name].iloc[train], "most_frequent")
        empty_in_train = [name for name, value in filled.items() if pd.isna(value)]
        if empty_in_train:
            raise DataError(
                f"column '{empty_in_train[0]}' has no value in the training split to impute from",
                hint="list it in data.drop",
            )
        table = table.fillna({k: v for k, v in filled.items() if k in table.columns})
        frame = frame.fillna({k: v for k, v in filled.items() if k in categorical})

    numeric_x = table.to_numpy(np.float64) if numeric_names else np.empty((len(frame), 0))
    _check_finite(numeric_x, numeric_names)

    edges: list[list[float]] | None = None
    if p.numeric_encoding == "piecewise" and numeric_names:
        edges = fit_bins(numeric_x[train], p.numeric_bins)
        blocks = [piecewise(numeric_x, edges, np.float32)]
        names = [f"{n}#{k}" for n, e in zip(numeric_names, edges, strict=True) for k in range(max(1, len(e) - 1))]
    else:
        blocks = [numeric_x]
        names = list(numeric_names)
    categories: dict[str, list[str]] = {}
    embedded: list[tuple[int, int]] = []
    for name in categorical:
        known = category_list(frame[name].iloc[train], p.max_categories)
        categories[name] = known
        codes = category_codes(frame[name].astype(str).to_numpy(), known)  # 0: a category not seen in training
        if p.categorical_encoding == "onehot":
            blocks.append(codes[:, None] == np.arange(1, len(known) + 1)[None, :])
            names.extend(f"{name}={c}" for c in known)
        else:
            embedded.append((len(names), len(known) + 1))
            blocks.append(codes[:, None])
            names.append(name)
    texts, token_ids = table_text.fit(frame, text_columns, train, p.text_encoder)
    text_blocks = table_text.positions(texts, len(names))
    blocks.append(token_ids)
    names.extend(f"{name}#{k}" for name, f in texts.items() for k in range(table_text.width(f)))
    images, image_x = table_images.fit(frame, image_columns, path.parent, train, p.image_encoder)
    image_blocks = table_images.positions(images, len(names))
    blocks.append(image_x)
    names.extend(f"{name}#{k}" for name, b in zip(images, image_blocks, strict=True) for k in range(b.width))
    x = np.concatenate(blocks, axis=1, dtype=np.float32)  # each block cast as it is copied: one matrix in memory
    del blocks

    info = DataInfo(
        name=path.stem,
        source=str(path),
        task=recipe.task.kind,
        input_shape=(x.shape[1],),
        input_kind="dense",
        class_names=class_names,
        feature_names=names,
        categorical=embedded,
        text_blocks=text_blocks,
        image_blocks=image_blocks,
        targets=target_infos,
        output_dim=sum(t.width for t in target_infos),
        source_path=str(path),
    )
    info.notes.extend(notes)
    info.preprocessing = {
        "kind": "csv",
        **({"targets": [t.column for t in target_infos]} if target_infos else {"target": targets[0]}),
        "numeric": numeric,
        "dates": dates,
        "categorical": categories,
        "categorical_encoding": p.categorical_encoding,
        "impute": {k: (v.item() if hasattr(v, "item") else v) for k, v in filled.items()},
        "class_names": class_names,
    }
    if texts:
        info.preprocessing["text"] = texts
    if images:
        info.preprocessing["images"] = images
    if edges is not None:
        info.preprocessing["bins"] = edges
    scaled = np.arange(len(numeric_names)) if edges is None else np.arange(0)
    module = build_module(recipe, x, y, splits, info, scale_columns=scaled, owned=True)
    module.groups = groups
    return module


def group_columns(frame: Any, names: list[str], field: str) -> dict[str, np.ndarray]:
    """Each named column's group per row (task.report_by, evaluate --by), read before any imputation."""
    return {str(c): group_labels(frame[c], str(c), field) for c in (column(frame, n, field) for n in names)}


def raw_parts(frame: Any, info: DataInfo, field: str) -> tuple[np.ndarray, np.ndarray]:
    """New rows as the fitted table sees them before encoding: the numbers (numeric columns, then each date
    column's calendar parts; missing cells imputed as in training) and each categorical column's code
    (1.. in the order of the run's category list, 0 for a category the training split never had)."""
    pre = info.preprocessing
    numeric = [input_column(frame, c, field, "feature") for c in pre["numeric"]]
    fill = {str(k): v for k, v in pre.get("impute", {}).items()}
    blocks = [numbers(frame, numeric, fill, field)]
    for name, parts in pre.get("dates", {}).items():
        values = calendar(frame[input_column(frame, name, field, "date")], parts)
        for j, part in enumerate(parts):
            gaps = np.isnan(values[:, j])
            if gaps.any():
                key = f"{name}.{part}"
                if key not in fill:
                    row = int(np.flatnonzero(gaps)[0]) + 1
                    raise DataError(f"{field}: column '{name}' has no readable date in data row {row}")
                values[gaps, j] = fill[key]
        blocks.append(values)
    codes = np.zeros((len(frame), len(pre["categorical"])), dtype=np.int64)
    for j, (name, known) in enumerate(pre["categorical"].items()):
        col = input_column(frame, name, field, "categorical")
        codes[:, j] = category_codes(frame[col].fillna(fill.get(str(name), "")).astype(str).to_numpy(), known)
    return np.concatenate(blocks, axis=1), codes


def category_text(frame: Any, info: DataInfo, field: str) -> np.ndarray:
    """Each categorical column's values as the text the run's category lists hold; "" for a missing cell."""
    columns = [input_column(frame, c, field, "categorical") for c in info.preprocessing["categorical"]]
    text = np.empty((len(frame), len(columns)), dtype=object)
    for j, col in enumerate(columns):
        text[:, j] = frame[col].fillna("").astype(str).to_numpy()
    return text


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    pre = info.preprocessing
    numbers_x, codes = raw_parts(frame, info, field)
    blocks = [numbers_x]
    if "bins" in pre:
        blocks[0] = piecewise(blocks[0], pre["bins"])
    elif "scaler" in pre and blocks[0].shape[1]:
        # the scaler was fitted on, and applied to, float32 inputs: the same values here land on the same
        # side of a quantile that many training rows share (an imputed median)
        blocks[0] = apply_scaler(blocks[0].astype(np.float32), pre["scaler"]).astype(np.float64)
    for j, known in enumerate(pre["categorical"].values()):
        if pre["categorical_encoding"] == "onehot":
            blocks.append((codes[:, j : j + 1] == np.arange(1, len(known) + 1)[None, :]).astype(np.float64))
        else:
            blocks.append(codes[:, j : j + 1].astype(np.float64))
    blocks.append(table_text.token_ids(frame, pre.get("text", {}), field).astype(np.float64))
    blocks.append(table_images.pixels(frame, pre.get("images", {}), field).astype(np.float64))
    x = np.concatenate(blocks, axis=1, dtype=np.float32)  # each block cast as it is copied: one matrix in memory
    del blocks
    target = pre.get("target")
    target = target if target in frame.columns else None
    return RawInputs(x, labels(frame, target, info, field), row_ids(len(frame)))


def labelled_frame(recipe: Recipe) -> Any:
    """The table `build` splits (its labelled rows): `module.index` holds positions in it."""
    p = section(recipe.data, CsvData)
    frame, _ = read_table(p, header=p.header)
    return table_targets.labelled(frame, table_targets.target_columns(frame, p, recipe.task), p, recipe.task, [])


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first rows of the training file, feature columns only: the MLflow model's input example."""
    pre = info.preprocessing
    columns = [
        *pre["numeric"],
        *pre.get("dates", {}),
        *pre["categorical"],
        *pre.get("text", {}),
        *pre.get("images", {}),
    ]
    example = first_rows(recipe, columns, rows)
    # a served model resolves relative image paths against its own working folder, not the training file's
    folder = existing(section(recipe.data, CsvData).path).parent
    return table_images.absolute(example, [str(c) for c in pre.get("images", {})], folder)


def export_front(recipe: Recipe, info: DataInfo, module: Any) -> GraphFront:
    """What `dlkit export` puts in front of the network (`table_graph`), with the test rows read again."""
    rows = labelled_frame(recipe).iloc[module.index["test"]].reset_index(drop=True)
    rows.attrs[table_images.FOLDER] = str(existing(section(recipe.data, CsvData).path).parent)
    values, codes = raw_parts(rows, info, "test split")
    tokens = table_text.token_ids(rows, info.preprocessing.get("text", {}), "test split")
    pixels = table_images.pixels(rows, info.preprocessing.get("images", {}), "test split", scaled=False)
    return front(info.preprocessing, values, codes, category_text(rows, info, "test split"), tokens, pixels)
