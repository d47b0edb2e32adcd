"""Temperature scaling: one scalar that divides a classifier's logits, fitted on the validation split by
minimising the negative log-likelihood. Probabilities come closer to the accuracy they claim, and no
prediction changes (the order of the logits stays)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dlkit.atomic import write_atomically

#: the temperatures considered: beyond them a model is constant or a one-hot, not calibrated
LOWEST, HIGHEST = 0.05, 20.0


def fit(logits: torch.Tensor, target: torch.Tensor) -> float:
    """The temperature T minimising the cross-entropy of softmax(logits / T) against `target`."""
    logits, target = logits.detach().double().cpu(), target.detach().long().cpu()
    if len(target) == 0:
        return 1.0
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)  # T = exp(log_t) stays positive
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    t = float(log_t.detach().exp())
    return min(max(t, LOWEST), HIGHEST) if t == t else 1.0


def ece_change(logits: torch.Tensor, target: torch.Tensor, t: float, bins: int) -> tuple[float, float]:
    """Expected calibration error of softmax(logits), and of softmax(logits / t)."""
    from torchmetrics.functional.classification import multiclass_calibration_error

    k = logits.shape[1]
    before = float(multiclass_calibration_error(logits.softmax(-1), target, k, n_bins=bins))
    after = float(multiclass_calibration_error((logits / t).softmax(-1), target, k, n_bins=bins))
    return before, after


def write_buffer(checkpoint: Path, saved: dict[str, Any], name: str, value: torch.Tensor) -> None:
    """Set buffer `name` in the state dict of `saved` (read from `checkpoint`) and write it back atomically."""
    saved["state_dict"][name] = value.to(saved["state_dict"][name].dtype)
    data = io.BytesIO()
    torch.save(saved, data)
    write_atomically(checkpoint, data.getvalue(), "checkpoint")


@torch.no_grad()
def validation_outputs(task: Any, batches: Any, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The backbone's outputs (before any temperature) on `batches`, in float32 on the CPU, with their targets."""
    was_training = task.training
    task.eval()
    parameter = next(task.backbone.parameters())
    outputs, targets = [], []
    for batch in batches:
        x, y = task.transfer_batch_to_device(batch, parameter.device, 0)
        if x.is_floating_point():
            x = x.to(parameter.dtype)
        outputs.append(task.backbone(x).float().cpu())
        targets.append(y.cpu())
    task.train(was_training)
    if not outputs:
        return torch.empty(0, width), torch.empty(0, dtype=torch.long)
    return torch.cat(outputs), torch.cat(targets)
