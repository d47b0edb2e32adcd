"""The exported graph itself: the network behind its data kind's front, written as ONNX or TorchScript
by torch's exporters, and run again, as its user will run it, for the parity check."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.errors import DlkitError
from dlkit.process import silence_libraries


class ExportFailed(DlkitError):
    """The exporter could not turn the network into a graph, or the graph disagrees with PyTorch."""


def graph_of(front: Any, task: Any) -> Any:
    from torch import nn

    class Graph(nn.Module):
        """The data kind's front, then the task's outputs: what `dlkit predict` computes from raw inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.front, self.task = front, task

        def forward(self, *inputs: Any) -> Any:
            return self.task.predict_outputs(self.front(*inputs))

    return Graph().eval()


def bare_trainer() -> Any:
    import lightning as L

    silence_libraries()
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def split_arrays(module: Any) -> tuple[np.ndarray, np.ndarray]:
    """The test split's inputs and targets, as arrays."""
    module.setup("test")
    xs, ys = [], []
    for x, y in module.test_dataloader():
        xs.append(x.cpu().numpy())
        ys.append(y.cpu().numpy())
    return np.concatenate(xs), np.concatenate(ys)


def example(inputs: dict[str, np.ndarray]) -> tuple[Any, ...]:
    """Two rows of each input (repeated when the test split has one): a batch of one would fix the size."""
    import torch

    rows = np.arange(2) % len(next(iter(inputs.values())))
    return tuple(torch.from_numpy(np.ascontiguousarray(v[rows])) for v in inputs.values())


@contextlib.contextmanager
def quiet() -> Any:
    """The exporters report each stage on stdout and warn about what dlkit does not use (torchvision ops)."""
    # onnxruntime's quantizer logs through the root logger (""); its level comes back afterwards too
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def reason(error: BaseException) -> str:
    """The first line of the innermost error: what failed, not the exporter's stage."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = [line for line in str(error).splitlines() if line.strip()]
    return (lines[0].strip() if lines else type(error).__name__)[:200]


def architecture(graph: Any) -> str:
    return str(graph.task.recipe.model.arch) if hasattr(graph.task, "recipe") else type(graph.task.backbone).__name__


def dynamic(inputs: dict[str, np.ndarray]) -> tuple[Any, ...]:
    """Any batch size: one entry for the graph's *inputs, holding one for each input."""
    import torch

    batch = torch.export.Dim("batch")
    return (tuple({0: batch} for _ in inputs),)


def write_onnx(graph: Any, inputs: dict[str, np.ndarray], path: Path) -> None:
    import torch

    # modules with a graph-friendly path for the same result (recurrent layers over token ids: no packing)
    switched = [m for m in graph.modules() if hasattr(m, "export_mode")]
    try:
        for module in switched:
            module.export_mode = True
        with quiet():
            torch.onnx.export(
                graph,
                example(inputs),
                str(path),
                dynamo=True,
                input_names=list(inputs),
                output_names=["outputs"],
                dynamic_shapes=dynamic(inputs),
                external_data=False,
            )
    except Exception as e:  # the exporter raises many kinds, each wrapped in "step 1/3 failed"
        raise ExportFailed(
            f"--format onnx: the {architecture(graph)} network does not export ({reason(e)})",
            hint="--format torchscript traces what ONNX cannot express",
        ) from None
    finally:
        for module in switched:
            module.export_mode = False


def write_torchscript(graph: Any, inputs: dict[str, np.ndarray], path: Path) -> None:
    import torch

    try:
        with quiet():
            traced = torch.jit.trace(graph, example(inputs), check_trace=False)
            traced.save(str(path))
    except Exception as e:
        raise ExportFailed(
            f"--format torchscript: the {architecture(graph)} network does not trace ({reason(e)})"
        ) from None


def runner(fmt: str, path: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """A function that runs the written graph on a batch of inputs, as its user will run it."""
    if fmt == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda batch: np.asarray(session.run(["outputs"], batch)[0])
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream; still loads
        loaded = torch.jit.load(str(path))

    def run(batch: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return loaded(*(torch.from_numpy(v) for v in batch.values())).numpy()  # type: ignore[no-any-return]

    return run


def outputs(run: Callable[[dict[str, np.ndarray]], np.ndarray], inputs: dict[str, np.ndarray]) -> np.ndarray:
    n = len(next(iter(inputs.values())))
    chunks = [run({k: np.ascontiguousarray(v[i : i + 1024]) for k, v in inputs.items()}) for i in range(0, n, 1024)]
    return np.concatenate(chunks).reshape(n, -1).astype(np.float64)


def difference(got: np.ndarray, want: np.ndarray) -> tuple[float, int]:
    """The largest difference, relative where values exceed 1 (targets in their own units), and its row."""
    gap = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    worst = int(np.argmax(gap.max(axis=1))) if gap.size else 0
    return float(gap.max()) if gap.size else 0.0, worst
