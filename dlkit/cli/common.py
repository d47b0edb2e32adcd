"""Small helpers shared by the commands (no heavy imports)."""

from __future__ import annotations

from typing import Any

OVERRIDES_HELP = "Recipe overrides as dotted key=value pairs, values in YAML: optim.lr=3e-4 model.channels=[16,32]."


def console(stderr: bool = False) -> Any:
    """A rich console (imported on first use)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)
