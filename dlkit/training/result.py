"""What a run is given besides its recipe (a parent run, a run to resume) and what it reports back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlkit.recipe.schema import Recipe

Say = Callable[[str], None]


@dataclass
class RunResult:
    """What a finished run reports back."""

    run_id: str | None
    experiment_id: str | None
    tracking_uri: str
    test_metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    best_checkpoint: str | None = None
    seconds: float = 0.0
    children: list[RunResult] = field(default_factory=list)
    #: model/params and model/latency_ms
    model_metrics: dict[str, float] = field(default_factory=dict)
    #: the resolved recipe the run trained
    recipe: Recipe | None = None


@dataclass
class Nested:
    """A child run: its parent, its name (`trial-006`, `fold-2/5`), its tags; callbacks and clean stops of its owner."""

    parent_run_id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    callbacks: list[Any] = field(default_factory=list)
    stop_on: tuple[type[BaseException], ...] = ()
    #: filled in once the child run exists
    run_id: str | None = None
    #: told the child run's id as soon as it exists (a tuning trial records it in the study)
    on_created: Callable[[str], None] | None = None
    #: whether the run writes its test reports (a tuning trial's are written at the study's end)
    reports: bool = True


@dataclass
class Resume:
    """Where a resumed run continues: its MLflow run, its last checkpoint, the last epoch MLflow holds."""

    run_id: str
    checkpoint: Path
    logged_through: int
