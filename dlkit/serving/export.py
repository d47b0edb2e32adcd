"""`export()`: a finished run as a standalone ONNX or TorchScript graph, checked against PyTorch.

The graph is the run's network and task outputs (probabilities, values in the target's units, anomaly
scores), with the data kind's fitted preprocessing in front where a graph can hold it (a table's
imputation, scaling, bins and category layout; the affine scaling of images, series and arrays). What
stays outside is written to `preprocessing.json`; `MODEL_CARD.md` says what goes in and out, how the
run scored and on what data. Before anything is written the graph runs on the test split, in
onnxruntime or the TorchScript interpreter, and must give PyTorch's outputs within 1e-4.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.atomic import check_writable
from dlkit.errors import BadInput
from dlkit.process import heavy_imports
from dlkit.recipe.data_kinds import DATA_KINDS
from dlkit.serving import export_graph
from dlkit.serving.evaluate import rebuilt_split
from dlkit.serving.export_card import CARD, SPEC, model_card
from dlkit.serving.export_graph import ExportFailed
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.store import resolve_tracking_uri

FORMATS = ("onnx", "torchscript")
#: an exported graph's outputs may differ from PyTorch's by this much (relative, beyond magnitude 1)
TOLERANCE = 1e-4
_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}


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
    with export_graph.quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    out = export_graph.outputs(export_graph.runner("onnx", target), inputs)
    report: dict[str, Any] = {
        "file": target.name,
        "bytes": target.stat().st_size,
        "float_bytes": source.stat().st_size,
        "max_difference": export_graph.difference(out, float_out)[0],
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
    test_x, test_y = export_graph.split_arrays(module)
    part = DATA_KINDS.get(str(info.preprocessing.get("kind"))).part("export_front")
    if part is not None:
        front = part(recipe, info, module)
    else:
        from dlkit.data.scaling_graph import generic_front

        front = generic_front(info, test_x)
    # tracing walks the LightningModule's attributes, and its `trainer` refuses to be read while unset
    task.trainer = export_graph.bare_trainer()
    graph = export_graph.graph_of(front.module, task)
    want = predictor.outputs(test_x)

    staging = folder.parent / f".{folder.name}.export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        path = staging / _FILES[fmt]
        with torch.inference_mode(False), torch.no_grad():
            (export_graph.write_onnx if fmt == "onnx" else export_graph.write_torchscript)(graph, front.inputs, path)
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
        got = export_graph.outputs(export_graph.runner(fmt, path), feed)
        gap, row = export_graph.difference(got, want)
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
