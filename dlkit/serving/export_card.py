"""An export's model card, and the export logged to its run (the ONNX graph as an MLflow logged model)."""

from __future__ import annotations

import datetime
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dlkit import __version__

CARD = "MODEL_CARD.md"
SPEC = "preprocessing.json"
#: the name of the ONNX logged model beside the run's own (pyfunc) `model`
ONNX_MODEL_NAME = "onnx"


def _run(uri: str, run_id: str | None) -> Any:
    if not run_id:
        return None
    from mlflow import MlflowClient

    return MlflowClient(uri).get_run(run_id)


def _data_lines(predictor: Any, run: Any) -> list[str]:
    info = predictor.info
    lines = [f"- source: `{info.source}`"]
    if info.split_sizes:
        lines.append("- rows per split: " + ", ".join(f"{k} {v}" for k, v in info.split_sizes.items()))
    for item in run.inputs.dataset_inputs if run is not None and run.inputs else []:
        dataset = item.dataset
        context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), "")
        lines.append(f"- MLflow dataset `{dataset.name}` ({context or 'input'}): digest `{dataset.digest}`")
    return lines


def _cell(value: Any, limit: int = 80) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return (text if len(text) <= limit else text[: limit - 3] + "...").replace("|", "\\|")


def model_card(predictor: Any, uri: str, spec: dict[str, Any], result: Any) -> str:
    """MODEL_CARD.md: what the graph takes and gives, its preprocessing, metrics, data and checks."""
    recipe, info = predictor.recipe, predictor.info
    run = _run(uri, predictor.run_id)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    classes = f" ({len(info.class_names)} classes)" if info.class_names else ""
    lines = [
        f"# {recipe.name}: {result.format} export",
        "",
        f"Run `{predictor.run_id or predictor.checkpoint}`, exported {when} by dlkit {__version__}. "
        f"Task: {recipe.task.kind}{classes}; architecture: {recipe.model.arch}.",
        "",
        "## Inputs and outputs",
        "",
        "| name | dtype | shape | holds |",
        "|---|---|---|---|",
    ]
    for direction in ("inputs", "outputs"):
        for name, item in spec[direction].items():
            shape = "[" + ", ".join(str(d) for d in item["shape"]) + "]"
            holds = _cell(item.get("columns", "the network's input, as dlkit reads the data"))
            lines.append(f"| {name} | {item['dtype']} | {shape} | {holds} |")
    lines += ["", "## Preprocessing", ""]
    lines.append("Inside the graph: " + (", ".join(spec.get("folded", [])) or "nothing") + ".")
    outside = spec.get("outside_graph") or {}
    lines.append(f"Outside the graph (`{SPEC}`): " + (", ".join(f"`{k}`" for k in outside) or "nothing") + ".")
    metrics = {k: v for k, v in (run.data.metrics.items() if run is not None else []) if k.startswith("test/")}
    if metrics:
        lines += ["", "## Test metrics of the run", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items())]
    lines += ["", "## Data", "", *_data_lines(predictor, run), "", "## Checks", ""]
    lines.append(
        f"- parity: the exported graph gives PyTorch's outputs on the {result.rows} test rows within "
        f"{result.parity:.2g} (limit 1e-4)"
    )
    q = result.quantized
    if q:
        change = f"; {q['metric']} {q['before']:.4f} -> {q['after']:.4f}" if "metric" in q else ""
        lines.append(
            f"- int8 (`{q['file']}`, dynamic quantization): {q['bytes']:,} bytes against {q['float_bytes']:,}"
            f"{change}; largest output change {q['max_difference']:.2g}"
        )
    if result.format == "onnx":
        feed = ", ".join(f'"{name}": {name}' for name in spec["inputs"])
        lines += [
            "",
            "## Use",
            "",
            "```python",
            "import onnxruntime",
            "",
            'session = onnxruntime.InferenceSession("model.onnx")',
            f'(outputs,) = session.run(["outputs"], {{{feed}}})',
            "```",
        ]
    return "\n".join(lines) + "\n"


def log_export(uri: str, predictor: Any, folder: Path, fmt: str, inputs: dict[str, np.ndarray], out: np.ndarray) -> str:
    """The export on its run: the ONNX graph as a logged model named `onnx` (with the card and spec beside
    it), a TorchScript export as artifacts under export/torchscript; returns the model id or artifact path."""
    from dlkit.tracking.logged_models import RunRef, new_model, upload

    ref = RunRef.of(uri, predictor.run_id)
    if fmt != "onnx":
        ref.client.log_artifacts(ref.run_id, str(folder), "export/torchscript")
        return "export/torchscript"
    import mlflow.onnx
    import onnx
    from mlflow.models import Model, infer_signature

    recipe = predictor.recipe
    tags = {"dlkit.recipe": recipe.name, "dlkit.arch": recipe.model.arch, "dlkit.format": "onnx"}
    example = {k: v[:2] for k, v in inputs.items()}
    staging = Path(tempfile.mkdtemp(prefix="dlkit-onnx-"))
    try:
        with new_model(ref, params={}, tags=tags, model_type="onnx", step=0, name=ONNX_MODEL_NAME) as model:
            saved = staging / ONNX_MODEL_NAME
            mlflow.onnx.save_model(
                onnx.load(str(folder / "model.onnx")),
                str(saved),
                signature=infer_signature(example, out[:2].astype(np.float32)),
                save_as_external_data=False,
                mlflow_model=Model(
                    artifact_path=model.artifact_location,
                    run_id=ref.run_id,
                    model_uuid=model.model_id,
                    model_id=model.model_id,
                ),
            )
            for extra in folder.iterdir():
                if extra.name != "model.onnx":
                    shutil.copy2(extra, saved / extra.name)
            upload(ref, model, saved)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(model.model_id)
