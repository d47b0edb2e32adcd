"""Transfer learning: weights copied from a trained run into a new backbone, modules frozen."""

from __future__ import annotations

from typing import Any

from dlkit.errors import BadInput
from dlkit.models.checkpoints import backbone_state, checkpoint_file, read_checkpoint


def init_from(backbone: Any, ref: str, tracking_uri: str) -> str:
    """Copy every tensor of the same name and shape from `ref` into `backbone`; returns a report line.

    A tensor of the same name but another shape is an error: it means the architectures differ.
    """
    field = "model.init_from"
    with checkpoint_file(ref, tracking_uri, field) as (path, _):
        source = backbone_state(read_checkpoint(path, field))
    target = backbone.state_dict()
    loaded = [k for k in target if k in source and tuple(source[k].shape) == tuple(target[k].shape)]
    mismatched = [k for k in target if k in source and k not in loaded]
    if mismatched:
        k = mismatched[0]
        raise BadInput(
            f"{field}: {len(mismatched)} tensor(s) differ in shape, first {k}: "
            f"{tuple(source[k].shape)} in the checkpoint, {tuple(target[k].shape)} here",
            hint="make the architecture match the one that was trained",
        )
    if not loaded:
        raise BadInput(
            f"{field}: no tensor of {ref} matches this model by name",
            hint="the models share no module (e.g. encoder) with the same layout",
        )
    backbone.load_state_dict({k: source[k] for k in loaded}, strict=False)
    loaded_groups = sorted({k.split(".")[0] for k in loaded})
    fresh = sorted({k.split(".")[0] for k in target if k not in loaded})
    report = f"model.init_from: loaded {len(loaded)} of {len(target)} tensors ({', '.join(loaded_groups)}) from {ref}"
    return report + (f"; initialised fresh: {', '.join(fresh)}" if fresh else "")


def freeze(backbone: Any, names: list[str]) -> list[Any]:
    """Stop the named modules' weights from training; returns their parameters (to unfreeze later)."""
    modules = dict(backbone.named_modules())
    frozen: list[Any] = []
    for name in names:
        if name not in modules or not name:
            top = sorted(n for n in modules if n and "." not in n)
            raise BadInput(f"model.freeze: no module '{name}'; this model has {', '.join(top)}")
        for param in modules[name].parameters():
            param.requires_grad = False
            frozen.append(param)
    return frozen
