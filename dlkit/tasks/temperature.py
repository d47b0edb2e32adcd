"""Temperature scaling: one scalar that divides a classifier's logits, fitted on the validation split by
minimising the negative log-likelihood. Probabilities come closer to the accuracy they claim, and no
prediction changes (the order of the logits stays)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
