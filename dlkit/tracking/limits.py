"""MLflow's size limits on keys and values, kept by shortening: the full value goes to an artifact.

A store refuses a param over 6000 characters, a run tag over 8000, a dataset tag over 500 and any
key over 250 (MLflow 3, `mlflow.utils.validation`), and the refusal would fail a run that already
trained. Every value dlkit sends goes through `Shortener`; what it cut is kept whole in the run's
`truncated_values.json`, and the shortened value says so.
"""

from __future__ import annotations

import hashlib

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_DATASET_TAG_KEY = 255
MAX_DATASET_TAG_VALUE = 500
MAX_DATASET_NAME = 500
#: the artifact that holds every value in full that was shortened for the store
ARTIFACT = "truncated_values.json"
_MARK = f" ... [full: {ARTIFACT}]"


class Shortener:
    """Shortens keys and values to a limit and remembers the originals of what it shortened."""

    def __init__(self) -> None:
        self.full: dict[str, dict[str, str]] = {}

    def key(self, key: str, limit: int = MAX_KEY) -> str:
        if len(key) <= limit:
            return key
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]  # two long keys with one prefix stay apart
        return f"{key[: limit - 9]}~{digest}"

    def value(self, kind: str, key: str, value: str, limit: int) -> str:
        """`value`, or its start with a mark that the whole of it is in the artifact."""
        if len(value) <= limit:
            return value
        self.full.setdefault(kind, {})[key] = value
        return value[: limit - len(_MARK)] + _MARK

    @property
    def pending(self) -> bool:
        return bool(self.full)
