"""`explain()`: captum attributions of a run's predictions for new inputs, as figures and tables.

Tables get a bar chart and a CSV of mean absolute attribution per feature; images a grid of
heatmaps beside the inputs; texts an HTML page with every token shaded by its attribution
(integrated gradients through the embedding layer, since token ids have no gradient); series
a heatmap over time steps and features. Everything is also logged to the run under `explain/`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.builtin import load_arrays
from dlkit.data.raw_inputs import from_file
from dlkit.errors import BadInput
from dlkit.process import heavy_imports
from dlkit.recipe.tasks import TASKS
from dlkit.serving import explain_figures as figures
from dlkit.tasks import task_class
from dlkit.tasks.predictor import Predictor
from dlkit.tracking.store import resolve_tracking_uri

METHODS = ("integrated_gradients", "saliency", "input_x_gradient", "deeplift", "gradient_shap")


@dataclass
class Explanation:
    attributions: np.ndarray  # same shape as the inputs (tokens: one value per token)
    targets: np.ndarray
    files: list[Path]


def _method(name: str, forward: Callable[..., Any], module: Any, embedding: Any | None) -> Any:
    from captum import attr

    if embedding is not None:  # token ids: attribute through the embedding layer's output
        if name not in ("integrated_gradients", "gradient_shap"):
            raise BadInput(f"--method {name}: text models are explained with integrated_gradients or gradient_shap")
        return attr.LayerIntegratedGradients(forward, embedding)
    classes: dict[str, Any] = {
        "integrated_gradients": attr.IntegratedGradients,
        "saliency": attr.Saliency,
        "input_x_gradient": attr.InputXGradient,
        "deeplift": attr.DeepLift,
        "gradient_shap": attr.GradientShap,
    }
    return classes[name](module if name == "deeplift" else forward)


def attribute(predictor: Any, x: np.ndarray, method: str, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Attributions (shaped like `x`; per token for text) and the explained output index of each sample."""
    import torch
    from torch import nn

    if method not in METHODS:
        raise BadInput(f"--method {method}: choose one of {', '.join(METHODS)}")
    task = predictor.task
    backbone = task.backbone
    if not task.explains:
        covered = [name for name in TASKS.names() if task_class(name).explains]
        raise BadInput(f"explain covers {', '.join(covered)} runs, not {predictor.recipe.task.kind}")
    inputs = torch.from_numpy(np.ascontiguousarray(x))
    with torch.no_grad():
        outputs = backbone(inputs)
    targets = task.explained_outputs(outputs, target)

    tokens = predictor.info.input_kind == "tokens"
    embedding = next((m for m in backbone.modules() if isinstance(m, nn.Embedding)), None) if tokens else None

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return backbone(batch).float().reshape(len(batch), -1)  # type: ignore[no-any-return]

    explainer = _method(method, forward, _Wrapped(backbone), embedding)
    backbone.eval()
    rnn = any(isinstance(m, nn.RNNBase) for m in backbone.modules())
    with torch.backends.cudnn.flags(enabled=not rnn), warnings.catch_warnings():  # RNN backward: no cuDNN
        warnings.simplefilter("ignore", UserWarning)  # captum's notes on the hooks it sets and removes
        if tokens:
            baseline = torch.zeros_like(inputs)  # all padding
            values = explainer.attribute(inputs, baselines=baseline, target=targets, n_steps=32)
            values = values.sum(dim=-1)  # one number per token
        else:
            kwargs: dict[str, Any] = {"target": targets}
            if method == "gradient_shap":
                kwargs["baselines"] = torch.zeros_like(inputs[:1])
            elif method == "integrated_gradients":
                kwargs["n_steps"] = 32
            inputs.requires_grad_(True)
            values = explainer.attribute(inputs, **kwargs)
            if predictor.info.text_blocks or predictor.info.categorical:
                values = _through_embeddings(values.detach(), inputs.detach(), forward, backbone, targets)
    return values.detach().numpy().astype(np.float64), targets.numpy()


def _through_embeddings(values: Any, inputs: Any, forward: Any, backbone: Any, targets: Any) -> Any:
    """A table's embedded columns (category codes, a text column's token ids) have no gradient: each one's
    attribution comes from integrated gradients through its embedding, from the unknown category and the
    empty text (code 0, all padding) to the row's own."""
    from captum import attr

    from dlkit.models.mlp import MLP
    from dlkit.models.text_columns import TextColumn

    if not isinstance(backbone, MLP):
        return values
    # (embedding layer, the input columns it reads); a text column's per-token attributions keep its tokens
    layers: list[tuple[Any, slice]] = [
        (e, slice(pos, pos + 1)) for pos, e in zip(backbone.cat_columns, backbone.embeddings, strict=True)
    ]
    texts = [m for m in backbone.texts if isinstance(m, TextColumn)]
    layers += [(text.embedding, slice(text.start, text.start + text.length)) for text in texts]
    if not layers:
        return values
    baseline = inputs.clone()
    for _, columns in layers:
        baseline[:, columns] = 0
    explainer = attr.LayerIntegratedGradients(forward, [layer for layer, _ in layers])
    found = explainer.attribute(inputs, baselines=baseline, target=targets, n_steps=32)
    values = values.clone()
    for (_, columns), layer in zip(layers, found if isinstance(found, list) else [found], strict=True):
        values[:, columns] = layer.sum(dim=-1).reshape(len(values), -1)
    return values


class _Wrapped:
    """DeepLift wants a module whose output is 2-D."""

    def __new__(cls, backbone: Any) -> Any:
        from torch import nn

        class Flat(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = backbone

            def forward(self, x: Any) -> Any:
                return self.inner(x).float().reshape(len(x), -1)

        return Flat()


def explain(
    ref: str,
    input_path: Path,
    *,
    method: str = "integrated_gradients",
    target: str | None = None,
    limit: int = 200,
    output: Path | None = None,
    tracking_uri: str | None = None,
    say: Callable[[str], None] = print,
) -> Explanation:
    """Attribute run `ref`'s predictions on `input_path`; write the figures to `output` and log them to the run."""
    if method not in METHODS:
        raise BadInput(f"--method {method}: choose one of {', '.join(METHODS)}")
    heavy_imports()
    uri = resolve_tracking_uri(tracking_uri, None)
    predictor = Predictor.load(ref, uri, "RUN")
    if predictor.warning:
        say(f"warning: {predictor.warning}")
    raw = from_file(input_path, predictor.recipe, predictor.info, "--input")
    x = raw.x[:limit]
    values, targets = attribute(predictor, x, method, target)
    folder = output or Path(f"explain-{(predictor.run_id or 'checkpoint')[:8]}")
    folder.mkdir(parents=True, exist_ok=True)
    info = predictor.info
    names = info.class_names
    labels = [names[t] for t in targets] if names else [str(t) for t in targets]
    if info.input_kind == "tokens":
        files = [figures.text_html(raw, x, values, labels, info.preprocessing["vocab"], folder / f"{method}.html")]
    elif values.ndim == 2:
        files = figures.table(*_blocks_summed(values, _feature_names(info, values.shape[1]), info), folder, method)
        for text, (name, fitted) in zip(info.text_blocks, info.preprocessing.get("text", {}).items(), strict=True):
            block = slice(text.start, text.start + text.length)
            path = folder / f"{method}-{name}.html"
            files.append(
                figures.text_html(raw, x[:, block].astype(np.int64), values[:, block], labels, fitted["vocab"], path)
            )
        for image, name in zip(info.image_blocks, info.preprocessing.get("images", {}), strict=True):
            shape = (-1, image.channels, image.size, image.size)
            pixels, heat = (a[:, image.start : image.start + image.width].reshape(shape) for a in (x, values))
            files.append(figures.image_grid(pixels, heat, labels, folder / f"{method}-{name}.png"))
    elif values.ndim == 4 and info.preprocessing.get("kind") == "audio":
        pre = info.preprocessing
        seconds = x.shape[2] * pre["hop"] / pre["sample_rate"]
        files = [figures.spectrograms(x, values, labels, folder / f"{method}.png", seconds)]
    elif values.ndim == 4:
        files = [figures.image_grid(x, values, labels, folder / f"{method}.png")]
    else:
        files = figures.sequence(values, info, folder, method)
    if predictor.run_id:
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        for f in files:
            client.log_artifact(predictor.run_id, str(f), f"explain/{method}")
        say(f"logged to run {predictor.run_id} under explain/{method}/")
    return Explanation(values, targets, files)


def _blocks_summed(values: np.ndarray, names: list[str], info: Any) -> tuple[np.ndarray, list[str]]:
    """One attribution per text or image column (the sum over its tokens or pixels) in the table's chart,
    beside the others."""
    spans = [
        (t.start, t.start + t.length, f"{name} (text)")
        for t, name in zip(info.text_blocks, info.preprocessing.get("text", {}), strict=True)
    ]
    spans += [
        (b.start, b.start + b.width, f"{name} (image)")
        for b, name in zip(info.image_blocks, info.preprocessing.get("images", {}), strict=True)
    ]
    if not spans:
        return values, names
    keep = np.ones(values.shape[1], dtype=bool)
    columns, labels = [], []
    for start, stop, label in spans:
        keep[start:stop] = False
        columns.append(values[:, start:stop].sum(axis=1))
        labels.append(label)
    merged = np.concatenate([values[:, keep], np.stack(columns, axis=1)], axis=1)
    return merged, [n for n, k in zip(names, keep, strict=True) if k] + labels


def _feature_names(info: Any, count: int) -> list[str]:
    names = info.feature_names or []
    if info.preprocessing.get("kind") == "builtin" and not names:
        names = load_arrays(info.preprocessing["name"])[3]
    return list(names) if len(names) == count else [f"feature_{i}" for i in range(count)]
