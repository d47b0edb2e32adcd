"""The fitted scalers of `scaling` as torch modules, so that an exported graph takes unscaled inputs.

Every module here computes what its numpy counterpart does, on the same dtype, so that the exported
graph and `dlkit predict` agree to float rounding: the export's parity check holds them to 1e-4.
Only operations that ONNX and TorchScript both have are used (no `searchsorted`, no `erfinv`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dlkit.data.scaling import _CLIP


@dataclass
class GraphFront:
    """What a data kind puts in front of the network in an exported graph.

    `module` turns the graph's `inputs` into the network's input; `inputs` holds those inputs for the
    test split (the parity check runs them through both); `spec` says in JSON what each input holds and
    what preprocessing stays outside the graph. ONNX, unlike torch, has text tensors: `lookups` turns a
    code input into a text one there (`serving.onnx_text`).
    """

    module: nn.Module
    inputs: dict[str, np.ndarray]
    spec: dict[str, Any] = field(default_factory=dict)
    #: inputs an ONNX graph takes as text instead: per column, text -> the code the input holds
    lookups: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    #: those inputs as text, for the test split
    text_inputs: dict[str, np.ndarray] = field(default_factory=dict)


class Affine(nn.Module):
    """(x - shift) / scale: the standard and min-max scalers, per feature or per image channel."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, scaler: dict[str, Any]) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(np.asarray(scaler["shift"]), dtype=torch.float64))
        self.register_buffer("scale", torch.tensor(np.asarray(scaler["scale"]), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # numpy scales float32 inputs in float64 (`scaling.apply_scaler`); so does this
        return ((x.to(torch.float32).to(torch.float64) - self.shift) / self.scale).to(torch.float32)


def _ndtri(p: torch.Tensor) -> torch.Tensor:
    """The standard normal quantile function (Acklam's rational approximation, relative error < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    low = 0.02425

    def const(value: float) -> torch.Tensor:
        # a tensor of p's dtype: the ONNX exporter writes bare Python floats as float32 constants, and the
        # polynomials below lose 1e-4 to that rounding
        return torch.tensor(value, dtype=p.dtype)

    def poly(coefficients: tuple[float, ...], t: torch.Tensor) -> torch.Tensor:
        out = t * 0 + const(coefficients[0])
        for k in coefficients[1:]:
            out = out * t + const(k)
        return out

    one, half = const(1.0), const(0.5)
    q = p - half
    r = q * q
    central = poly(a, r) * q / (poly(b, r) * r + one)
    tail = torch.sqrt(const(-2.0) * torch.log(torch.minimum(p, one - p)))
    lower = poly(c, tail) / (poly(d, tail) * tail + one)
    tails = torch.where(p < half, lower, -lower)
    return torch.where((p > const(low)) & (p < one - const(low)), central, tails)


class Quantile(nn.Module):
    """Each column through its training quantiles to a normal score, as `scaling._apply_quantiles`.

    Linear interpolation between quantiles is a sum of clipped ramps; where quantiles repeat (a value
    many training rows share) the ramp is a step, taken half-way, as the numpy version averages
    interpolating from both sides.
    """

    low: torch.Tensor
    width: torch.Tensor
    ramp: torch.Tensor
    step: torch.Tensor
    varies: torch.Tensor

    def __init__(self, quantiles: list[list[float]]) -> None:
        super().__init__()
        q = torch.tensor(np.asarray(quantiles, dtype=np.float64))
        probs = torch.linspace(0.0, 1.0, q.shape[1], dtype=torch.float64)
        width = q[:, 1:] - q[:, :-1]
        self.register_buffer("low", q[:, :-1])
        self.register_buffer("width", torch.where(width > 0, width, torch.ones_like(width)))
        self.register_buffer("ramp", width > 0)
        self.register_buffer("step", probs[1:] - probs[:-1])
        self.register_buffer("varies", q[:, 0] != q[:, -1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.to(torch.float32).to(torch.float64).unsqueeze(-1)
        ramps = torch.clamp((v - self.low) / self.width, 0.0, 1.0)
        steps = ((v >= self.low).to(torch.float64) + (v > self.low).to(torch.float64)) * 0.5
        p = (torch.where(self.ramp, ramps, steps) * self.step).sum(dim=-1)
        # bounds of p's dtype: as float32 constants (what the ONNX exporter makes of Python floats),
        # 1 - 1e-7 rounds down and moves the largest training values by 0.03
        low = torch.tensor(_CLIP, dtype=torch.float64)
        scores = _ndtri(torch.minimum(torch.maximum(p, low), 1.0 - low))
        return torch.where(self.varies, scores, torch.zeros_like(scores)).to(torch.float32)


class Piecewise(nn.Module):
    """`scaling.piecewise`: per column one input per training bin, 0 below it, 1 above, linear inside."""

    low: torch.Tensor
    width: torch.Tensor
    column: torch.Tensor

    def __init__(self, edges: list[list[float]]) -> None:
        super().__init__()
        low: list[float] = []
        width: list[float] = []
        column: list[int] = []
        for j, column_edges in enumerate(edges):
            e = np.asarray(column_edges, dtype=np.float64)
            if len(e) < 2:  # constant in training: one input that is always 0
                low.append(np.inf)
                width.append(1.0)
                column.append(j)
                continue
            low.extend(e[:-1].tolist())
            width.extend((e[1:] - e[:-1]).tolist())
            column.extend([j] * (len(e) - 1))
        self.register_buffer("low", torch.tensor(low, dtype=torch.float64))
        self.register_buffer("width", torch.tensor(width, dtype=torch.float64))
        self.register_buffer("column", torch.tensor(column, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.to(torch.float64).index_select(-1, self.column)
        inside = torch.clamp((v - self.low) / self.width, 0.0, 1.0)
        return torch.where(torch.isinf(self.low), torch.zeros_like(inside), inside)


def scaler_module(scaler: dict[str, Any] | None) -> nn.Module | None:
    """The torch module of a fitted scaler, None when it scales nothing."""
    method = (scaler or {}).get("method", "none")
    if method in ("standard", "minmax"):
        return Affine(scaler)  # type: ignore[arg-type]
    if method == "quantile":
        return Quantile(scaler["quantiles"])  # type: ignore[index]
    return None


def unscaled(x: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    """Scaled inputs back in the units the affine scaler took: the test split as a user would pass it."""
    return (x.astype(np.float64) * np.asarray(scaler["scale"]) + np.asarray(scaler["shift"])).astype(np.float32)


def generic_front(info: Any, test_x: np.ndarray) -> GraphFront:
    """The network's own input, with an affine scaler folded in (images, series, arrays, built-in sets).

    A quantile scaler of a built-in table stays outside (its inverse is not closed-form): the graph then
    takes scaled inputs and the spec carries the quantiles.
    """
    pre = dict(info.preprocessing)
    scaler = pre.get("scaler")
    spec: dict[str, Any] = {"inputs": {"x": {"dtype": str(test_x.dtype), "shape": ["batch", *info.input_shape]}}}
    if scaler and scaler.get("method") in ("standard", "minmax"):
        pre.pop("scaler")
        spec["folded"] = [f"{scaler['method']} scaling"]
        spec["outside_graph"] = pre
        return GraphFront(Affine(scaler), {"x": unscaled(test_x, scaler)}, spec)
    spec["outside_graph"] = pre
    return GraphFront(nn.Identity(), {"x": test_x}, spec)
