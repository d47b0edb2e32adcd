"""`export()`: a finished run as a standalone ONNX or TorchScript graph, checked against PyTorch.

The graph is the run's network and task outputs (probabilities, values in the target's units, anomaly
scores), with the data kind's fitted preprocessing in front where a graph can hold it (a table's
imputation, scaling, bins and category layout; the affine scaling of images, series and arrays). What
stays outside is written to `preprocessing.json`; `MODEL_CARD.md` says what goes in and out, how the
run scored and on what data. Before anything is written the graph runs on the test split, in
onnxruntime or the TorchScript interpreter, and must give PyTorch's outputs within 1e-4.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.atomic import check_writable
from dlkit.errors import BadInput, DlkitError
from dlkit.process import heavy_imports, silence_libraries
from dlkit.recipe.data_kinds import DATA_KINDS
from dlkit.serving.evaluate import rebuilt_split
from dlkit.serving.export_card import CARD, SPEC, model_card
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.store import resolve_tracking_uri

FORMATS = ("onnx", "torchscript")
#: an exported graph's outputs may differ from PyTorch's by this much (relative, beyond magnitude 1)
TOLERANCE = 1e-4
_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}


class ExportFailed(DlkitError):
    """The exporter could not turn the network into a graph, or the graph disagrees with PyTorch."""


@dataclass
class Exported:
    folder: Path
    format: str
    files: dict[str, int]
    graph: str
    parity: float
    rows: int
    quantized: dict[str, Any] | None = None
    logged_model: str | None = None
    notes: list[str] = field(default_factory=list)


def _graph(front: Any, task: Any) -> Any:
    from torch import nn

    class Graph(nn.Module):
        """The data kind's front, then the task's outputs: what `dlkit predict` computes from raw inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.front, self.task = front, task

        def forward(self, *inputs: Any) -> Any:
            return self.task.predict_outputs(self.front(*inputs))

    return Graph().eval()


def _bare_trainer() -> Any:
    import lightning as L

    silence_libraries()
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def _test_split(module: Any) -> tuple[np.ndarray, np.ndarray]:
    module.setup("test")
    xs, ys = [], []
    for x, y in module.test_dataloader():
        xs.append(x.cpu().numpy())
        ys.append(y.cpu().numpy())
    return np.concatenate(xs), np.concatenate(ys)


def _example(inputs: dict[str, np.ndarray]) -> tuple[Any, ...]:
    """Two rows of each input (repeated when the test split has one): a batch of one would fix the size."""
    import torch

    rows = np.arange(2) % len(next(iter(inputs.values())))
    return tuple(torch.from_numpy(np.ascontiguousarray(v[rows])) for v in inputs.values())


@contextlib.contextmanager
def _quiet() -> Any:
    """The exporters report each stage on stdout and warn about what dlkit does not use (torchvision ops)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
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


def _reason(error: BaseException) -> str:
    """The first line of the innermost error: what failed, not the exporter's stage."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = [line for line in str(error).splitlines() if line.strip()]
    return (lines[0].strip() if lines else type(error).__name__)[:200]


def _architecture(graph: Any) -> str:
    return str(graph.task.recipe.model.arch) if hasattr(graph.task, "recipe") else type(graph.task.backbone).__name__


def _dynamic(inputs: dict[str, np.ndarray]) -> tuple[Any, ...]:
    """Any batch size: one entry for the graph's *inputs, holding one for each input."""
    import torch

    batch = torch.export.Dim("batch")
    return (tuple({0: batch} for _ in inputs),)


def _write_onnx(graph: Any, inputs: dict[str, np.ndarray], path: Path) -> None:
    import torch

    try:
        with _quiet():
            torch.onnx.export(
                graph,
                _example(inputs),
                str(path),
                dynamo=True,
                input_names=list(inputs),
                output_names=["outputs"],
                dynamic_shapes=_dynamic(inputs),
                external_data=False,
            )
    except Exception as e:  # the exporter raises many kinds, each wrapped in "step 1/3 failed"
        raise ExportFailed(
            f"--format onnx: the {_architecture(graph)} network does not export ({_reason(e)})",
            hint="--format torchscript traces what ONNX cannot express (sequences packed by length)",
        ) from None


def _write_torchscript(graph: Any, inputs: dict[str, np.ndarray], path: Path) -> None:
    import torch

    try:
        with _quiet():
            traced = torch.jit.trace(graph, _example(inputs), check_trace=False)
            traced.save(str(path))
    except Exception as e:
        raise ExportFailed(
            f"--format torchscript: the {_architecture(graph)} network does not trace ({_reason(e)})"
        ) from None


def _runner(fmt: str, path: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
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


def _outputs(run: Callable[[dict[str, np.ndarray]], np.ndarray], inputs: dict[str, np.ndarray]) -> np.ndarray:
    n = len(next(iter(inputs.values())))
    chunks = [run({k: np.ascontiguousarray(v[i : i + 1024]) for k, v in inputs.items()}) for i in range(0, n, 1024)]
    return np.concatenate(chunks).reshape(n, -1).astype(np.float64)


def _difference(got: np.ndarray, want: np.ndarray) -> tuple[float, int]:
    """The largest difference, relative where values exceed 1 (targets in their own units), and its row."""
    gap = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    worst = int(np.argmax(gap.max(axis=1))) if gap.size else 0
    return float(gap.max()) if gap.size else 0.0, worst


def _requirements(fmt: str, quantize: str | None) -> None:
    if quantize is not None and fmt != "onnx":
        raise BadInput("--quantize: int8 quantizes ONNX graphs", hint="add --format onnx")
    if fmt != "onnx":
        return
    missing = []
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise BadInput(
            f"--format onnx needs {', '.join(missing)}, which are not installed", hint="pip install 'dlkit[export]'"
        )


def check_output(folder: Path) -> None:
    """Refuse a folder that holds anything but an earlier export (which is replaced whole)."""
    check_writable(folder, "--output", folder=True)
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CARD).is_file():
        raise BadInput(f"--output: {folder} holds other files", hint="name a new or empty folder")


def _quantized(
    folder: Path, task: Any, inputs: dict[str, np.ndarray], y: np.ndarray, float_out: np.ndarray
) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = folder / _FILES["onnx"], folder / "model.int8.onnx"
    with _quiet():
        logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's quantizer logs through the root logger
        try:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(logging.WARNING)
    out = _outputs(_runner("onnx", target), inputs)
    report: dict[str, Any] = {
        "file": target.name,
        "bytes": target.stat().st_size,
        "float_bytes": source.stat().st_size,
        "max_difference": _difference(out, float_out)[0],
    }
    scored = task.export_score(float_out, y)
    if scored is not None:
        name, before = scored
        report.update(metric=name, before=before, after=task.export_score(out, y)[1])
    return report


def export(
    ref: str,
    fmt: str,
    folder: Path,
    *,
    quantize: str | None = None,
    tracking_uri: str | None = None,
    log_to_run: bool = True,
    say: Callable[[str], None] = print,
) -> Exported:
    """Export run `ref` (a run id or checkpoint) to `folder`; logs the ONNX graph to the run as a model."""
    import torch

    _requirements(fmt, quantize)
    check_output(folder)
    heavy_imports()
    uri = resolve_tracking_uri(tracking_uri, None)
    predictor = Predictor.load(ref, uri, "RUN")
    if predictor.warning:
        say(f"warning: {predictor.warning}")
    recipe, info, task = predictor.recipe, predictor.info, predictor.task
    module = rebuilt_split(recipe, info, say)
    test_x, test_y = _test_split(module)
    part = DATA_KINDS.get(str(info.preprocessing.get("kind"))).part("export_front")
    if part is not None:
        front = part(recipe, info, module)
    else:
        from dlkit.data.scaling_graph import generic_front

        front = generic_front(info, test_x)
    # tracing walks the LightningModule's attributes, and its `trainer` refuses to be read while unset
    task.trainer = _bare_trainer()
    graph = _graph(front.module, task)
    want = predictor.outputs(test_x)

    staging = folder.parent / f".{folder.name}.export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        path = staging / _FILES[fmt]
        with torch.inference_mode(False), torch.no_grad():
            (_write_onnx if fmt == "onnx" else _write_torchscript)(graph, front.inputs, path)
        feed = front.inputs
        if fmt == "onnx" and front.lookups:
            from dlkit.serving.onnx_text import fold_lookups

            fold_lookups(path, front.lookups)
            feed = {**front.inputs, **front.text_inputs}
            for name in front.lookups:
                front.spec["inputs"][name].update(
                    dtype="string", codes="each column's value as text; '' for a missing cell, unseen text is unknown"
                )
                front.spec["outside_graph"].pop(f"{name}_codes", None)
                front.spec["folded"].append(f"{name}: text -> codes")
        got = _outputs(_runner(fmt, path), feed)
        gap, row = _difference(got, want)
        if not gap <= TOLERANCE:
            raise ExportFailed(
                f"parity check: the {fmt} graph differs from PyTorch by {gap:.2g} on test row {row + 1} "
                f"(limit {TOLERANCE:g}); nothing was written"
            )
        result = Exported(folder, fmt, {}, _FILES[fmt], gap, len(want))
        if quantize is not None:
            result.quantized = _quantized(staging, task, feed, test_y, want)
        spec = {
            **front.spec,
            "outputs": {
                "outputs": {
                    "dtype": "float32",
                    "shape": ["batch", want.shape[1]],
                    "columns": task.output_names(want.shape[1]),
                }
            },
        }
        (staging / SPEC).write_text(json.dumps(spec, indent=1, default=str) + "\n")
        (staging / CARD).write_text(model_card(predictor, uri, spec, result))
        result.files = {p.name: p.stat().st_size for p in sorted(staging.iterdir())}
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if log_to_run and predictor.run_id:
        from dlkit.serving.export_card import log_export

        result.logged_model = log_export(uri, predictor, folder, fmt, feed, want)
    elif not predictor.run_id:
        result.notes.append("not logged: the checkpoint names no MLflow run")
    return result
