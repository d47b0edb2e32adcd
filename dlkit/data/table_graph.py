"""A table's fitted preprocessing in front of the network of an exported graph.

The graph takes up to four inputs, as `tabular.raw_parts` reads them: `numbers` (float64; the numeric
columns, then each date column's calendar parts; NaN where a cell is missing), `categories` (int64;
each categorical column's code, 0 for a category the training split never had), then `tokens` (each
text column's word ids) and `images` (each image column's decoded pixels in [0, 1]) where the table
has them. Imputation, scaling (standard, min-max, quantile), piecewise bins, the one-hot or embedding
layout and the pixels' scaling run inside the graph; reading dates into calendar parts, category
names into codes and image files into pixels stay outside, spelt out in the spec.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from dlkit.data import table_text
from dlkit.data.scaling_graph import GraphFront, Piecewise, scaler_module
from dlkit.data.table_images import scale_vectors


class TableFront(nn.Module):
    fill: torch.Tensor
    codes: torch.Tensor
    pixel_mean: torch.Tensor
    pixel_std: torch.Tensor

    def __init__(self, pre: dict[str, Any], numbers: list[str]) -> None:
        super().__init__()
        fill = pre.get("impute", {})
        values = [float(fill[name]) if name in fill else float("nan") for name in numbers]
        self.register_buffer("fill", torch.tensor(values, dtype=torch.float64))
        self.has_numbers = bool(numbers)
        self.encode: nn.Module | None = None
        if "bins" in pre:
            self.encode = Piecewise(pre["bins"])
        elif numbers:
            self.encode = scaler_module(pre.get("scaler"))
        self.onehot = pre["categorical_encoding"] == "onehot"
        sizes = [len(known) for known in pre["categorical"].values()]
        self.register_buffer("codes", torch.arange(1, max(sizes, default=0) + 1, dtype=torch.long))
        self.sizes = sizes
        self.has_tokens = bool(pre.get("text"))
        self.has_images = bool(pre.get("images"))
        mean, std = scale_vectors(pre.get("images", {}))
        self.register_buffer("pixel_mean", torch.from_numpy(mean))
        self.register_buffer("pixel_std", torch.from_numpy(std))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        blocks = []
        rest = list(inputs)
        if self.has_numbers:
            numbers = rest.pop(0).to(torch.float64)
            numbers = torch.where(torch.isnan(numbers) & ~torch.isnan(self.fill), self.fill, numbers)
            blocks.append((self.encode(numbers) if self.encode is not None else numbers).to(torch.float32))
        if self.sizes:
            codes = rest.pop(0).to(torch.long)
            for j, size in enumerate(self.sizes):
                column = codes[:, j : j + 1]
                if self.onehot:
                    blocks.append((column == self.codes[:size]).to(torch.float32))
                else:
                    blocks.append(column.to(torch.float32))
        if self.has_tokens:
            blocks.append(rest.pop(0).to(torch.float32))
        if self.has_images:
            scaled = (rest.pop(0).to(torch.float32) - self.pixel_mean) / self.pixel_std
            blocks.append(torch.where(torch.isnan(scaled), torch.zeros_like(scaled), scaled))  # no image: the mean
        return torch.cat(blocks, dim=1)


def front(
    pre: dict[str, Any], values: np.ndarray, codes: np.ndarray, text: np.ndarray, tokens: np.ndarray, pixels: np.ndarray
) -> GraphFront:
    """The table's graph front, given its test rows as numbers, category codes, category text, token ids and
    decoded pixels."""
    numbers = [str(c) for c in pre["numeric"]]
    numbers += [f"{c}.{part}" for c, parts in pre.get("dates", {}).items() for part in parts]
    inputs: dict[str, np.ndarray] = {}
    spec: dict[str, Any] = {"inputs": {}, "folded": [], "outside_graph": {}}
    if numbers:
        inputs["numbers"] = values.astype(np.float64)
        imputed = {k: v for k, v in pre.get("impute", {}).items() if k in numbers}
        spec["inputs"]["numbers"] = {
            "dtype": "float64",
            "shape": ["batch", len(numbers)],
            "columns": numbers,
            "missing": "NaN; filled inside the graph for the columns listed in imputed, refused elsewhere",
            "imputed": imputed,
        }
        if imputed:
            spec["folded"].append("imputation")
        spec["folded"].append("piecewise bins" if "bins" in pre else f"{pre.get('scaler', {}).get('method')} scaling")
    if pre["categorical"]:
        inputs["categories"] = codes
        spec["inputs"]["categories"] = {
            "dtype": "int64",
            "shape": ["batch", len(pre["categorical"])],
            "columns": [str(c) for c in pre["categorical"]],
            "codes": "1 + the value's position in its column's vocabulary; 0 for any other value",
            "vocabularies": {str(k): v for k, v in pre["categorical"].items()},
            "imputed": {k: v for k, v in pre.get("impute", {}).items() if k in pre["categorical"]},
        }
        spec["folded"].append(f"category {pre['categorical_encoding']}")
        spec["outside_graph"]["categories_codes"] = "text -> code through inputs.categories.vocabularies"
    if pre.get("dates"):
        spec["outside_graph"]["dates"] = {
            str(k): {"parts": v, "note": "calendar parts of the parsed date, in this order, as numbers"}
            for k, v in pre["dates"].items()
        }
    texts = pre.get("text", {})
    if texts:
        inputs["tokens"] = tokens
        spec["inputs"]["tokens"] = {
            "dtype": "int64",
            "shape": ["batch", tokens.shape[1]],
            "columns": [f"{name} ({table_text.width(f)} tokens)" for name, f in texts.items()],
            "codes": "per text column, its first max_length words as positions in its vocab (1: unknown), 0-padded; "
            "with ngrams 2, those words and then each pair of neighbouring ones ('a b'), 0-padded to twice max_length",
        }
        spec["outside_graph"]["text"] = {
            name: {k: f[k] for k in ("tokenizer", "lowercase", "max_length", "vocab")} | {"ngrams": f.get("ngrams", 1)}
            for name, f in texts.items()
        }
    images = pre.get("images", {})
    if images:
        inputs["images"] = pixels.astype(np.float32)
        spec["inputs"]["images"] = {
            "dtype": "float32",
            "shape": ["batch", pixels.shape[1]],
            "columns": [f"{name} ({f['channels']}x{f['size']}x{f['size']})" for name, f in images.items()],
            "values": "per image column, its pixels in [0, 1], channel by channel, row by row; NaN: no image",
        }
        spec["folded"].append("pixel scaling (training mean and spread per channel)")
        spec["outside_graph"]["images"] = {
            name: {"decode": "gray (L)" if f["channels"] == 1 else "RGB", "resize": [f["size"], f["size"]],
                   "resample": "bilinear", "scale": "divide by 255"}
            for name, f in images.items()
        }  # fmt: skip
    made = GraphFront(TableFront(pre, numbers), inputs, spec)
    if pre["categorical"]:
        made.text_inputs["categories"] = text
        made.lookups["categories"] = [
            _lookup(known, pre.get("impute", {}).get(name)) for name, known in pre["categorical"].items()
        ]
    return made


def _lookup(known: list[str], fill: Any) -> dict[str, int]:
    """Text -> code for one column: 1.. for the training categories, a missing cell ("") as its imputed one."""
    codes = {c: i + 1 for i, c in enumerate(known)}
    if fill is not None and "" not in codes:
        codes[""] = codes.get(str(fill), 0)
    return codes
