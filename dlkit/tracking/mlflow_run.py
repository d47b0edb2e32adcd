"""One MLflow run: created, filled through batched calls, and always ended with a final status."""

from __future__ import annotations

import json
import re
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

from dlkit.errors import DlkitError, Interrupted, TrackingError
from dlkit.retry import retry_collisions
from dlkit.tracking import limits, run_names
from dlkit.tracking.store import local_artifact_root, prepare_store
from dlkit.tracking.writer import MAX_METRICS_PER_CALL, BackgroundWriter

MAX_PARAMS_PER_CALL = 100


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Nested dict -> {"a.b.c": "value"}, lists as JSON. Unset values (None) are left out: logged as the
    text "None" they would fill every comparison of two runs with parameters that say nothing."""
    out: dict[str, str] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if value is not None:
                out.update(flatten(value, f"{prefix}{key}."))
        if not tree and prefix:
            out[prefix[:-1]] = "{}"
    else:
        out[prefix[:-1]] = json.dumps(tree) if isinstance(tree, list | tuple) else str(tree)
    return out


#: the MLflow 3 UI opens an experiment of this kind on its runs and models, not on GenAI traces
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class Split(NamedTuple):
    """One split of a run's data as an MLflow dataset input."""

    features: Any
    targets: Any
    name: str
    context: str  # training, validation, testing
    extra: dict[str, str]


class MlflowRun:
    """An MLflow run, driven through MlflowClient (no global active-run state)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment: str,
        run_name: str,
        tags: dict[str, str],
        reuse_tags: tuple[str, ...] = (),
        run_id: str | None = None,
        unique_name: bool = False,
    ) -> None:
        """Create a run; with `reuse_tags`, continue the latest run whose tags of those names match instead;
        with `run_id`, continue that run (a resumed training); `unique_name`: a new run's name gets a `-2`,
        `-3`, ... suffix when the experiment has one of that name."""
        prepare_store(tracking_uri)
        from mlflow import MlflowClient
        from mlflow.entities import RunTag

        self.tracking_uri = tracking_uri
        self.shortener = limits.Shortener()
        #: (name, digest) of each dataset input this process logged, by context
        self._datasets: dict[str, tuple[str, str]] = {}
        tags = self._tags(tags)
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri)
            self.experiment_id = self._experiment(experiment)
            run = self._existing(tags, reuse_tags) if reuse_tags else None
            if run_id is not None:
                run = self.client.get_run(run_id)
            if run is not None:
                self.client.update_run(run.info.run_id, status="RUNNING")
                self.client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            else:
                if unique_name:
                    run_name = run_names.unique(self.client, self.experiment_id, run_name)
                run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        except TrackingError:
            raise
        except Exception as e:  # the store's own errors vary by backend
            raise TrackingError(
                f"tracking store {tracking_uri}: {_first_line(e)}", hint="check --tracking-uri / MLFLOW_TRACKING_URI"
            ) from None
        self.run_id: str = run.info.run_id
        self.artifact_uri: str = run.info.artifact_uri
        self.ended = False
        self._keep_full_values()
        self._writer: BackgroundWriter | None = None

    def _existing(self, tags: dict[str, str], keys: tuple[str, ...]) -> Any:
        query = " and ".join(f"tags.`{k}` = '{tags[k]}'" for k in keys)
        found = self.client.search_runs(
            [self.experiment_id], query, max_results=1, order_by=["attributes.start_time DESC"]
        )
        return found[0] if found else None

    def _experiment(self, name: str) -> str:
        """The experiment's id, created when new; marked as model training (see EXPERIMENT_KIND) unless its
        owner chose another kind."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            if EXPERIMENT_KIND[0] not in found.tags:
                self.client.set_experiment_tag(found.experiment_id, *EXPERIMENT_KIND)
            return str(found.experiment_id)
        root = local_artifact_root(self.tracking_uri)
        location = (root / re.sub(r"[^A-Za-z0-9_.-]", "_", name)).as_uri() if root else None
        try:
            return str(self.client.create_experiment(name, artifact_location=location, tags=dict([EXPERIMENT_KIND])))
        except Exception:
            # another process created it in the meantime
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def _tags(self, tags: dict[str, str]) -> dict[str, str]:
        s = self.shortener
        return {s.key(k): s.value("tags", k, str(v), limits.MAX_TAG_VALUE) for k, v in tags.items()}

    def _keep_full_values(self) -> None:
        """The values shortened so far, whole, in the run's truncated_values.json (rewritten as it grows)."""
        if self.shortener.pending:
            self.client.log_text(self.run_id, json.dumps(self.shortener.full, indent=1), limits.ARTIFACT)

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        s = self.shortener
        items = [Param(s.key(k), s.value("params", k, v, limits.MAX_PARAM_VALUE)) for k, v in params.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, params=items[i : i + MAX_PARAMS_PER_CALL])
        self._keep_full_values()

    def log_metrics(
        self,
        metrics: dict[str, float],
        step: int,
        tags: dict[str, str] | None = None,
        background: bool = False,
        model_id: str | None = None,
        dataset: tuple[str, str] | None = None,
    ) -> None:
        """All metrics of one step (and optional tags) in one call; `background`: sent by the writer thread
        (epoch metrics), in order, merged with the other pending ones; end() and flush() wait for them.
        `model_id` and `dataset` (name, digest) link the metrics to a logged model and the data they measure."""
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        name, digest = dataset or (None, None)
        items = [
            Metric(
                self.shortener.key(k), float(v), now, step, model_id=model_id, dataset_name=name, dataset_digest=digest
            )
            for k, v in metrics.items()
        ]
        extra = [RunTag(k, v) for k, v in self._tags(tags or {}).items()]
        if background:
            if self._writer is None:
                self._writer = BackgroundWriter(self.client, self.run_id)
            self._writer.put(items, extra)
            return
        self.flush()
        for i in range(0, max(1, len(items)), MAX_METRICS_PER_CALL):
            self.client.log_batch(
                self.run_id, metrics=items[i : i + MAX_METRICS_PER_CALL], tags=extra if i == 0 else []
            )

    def flush(self) -> None:
        """Wait until the metrics sent in the background are in the store."""
        if self._writer is not None:
            self._writer.flush()

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in self._tags(tags).items()])
        self._keep_full_values()

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_datasets(self, splits: list[Split], source: dict[str, str]) -> None:
        """Record the splits as the run's MLflow dataset inputs (name, digest, schema, profile), in one call."""
        from mlflow.data.code_dataset_source import CodeDatasetSource
        from mlflow.data.numpy_dataset import from_numpy
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.entities import DatasetInput, InputTag

        origin = CodeDatasetSource(source)
        s = self.shortener
        inputs = []
        for split in splits:
            name = split.name[: limits.MAX_DATASET_NAME]
            with warnings.catch_warnings():  # about serving a model's integer inputs, not a dataset's labels
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                if hasattr(split.features, "columns"):  # a table of files (streamed images)
                    table = split.features.assign(target=split.targets)
                    dataset: Any = from_pandas(table, source=origin, targets="target", name=name)
                else:
                    dataset = from_numpy(split.features, targets=split.targets, name=name, source=origin)
                entity = dataset._to_mlflow_entity()
            tags = [InputTag("mlflow.data.context", split.context)]
            for k, v in split.extra.items():
                key = s.key(k, limits.MAX_DATASET_TAG_KEY)
                tags.append(InputTag(key, s.value(f"dataset {name}", k, v, limits.MAX_DATASET_TAG_VALUE)))
            inputs.append(DatasetInput(entity, tags=tags))
            self._datasets[split.context] = (entity.name, entity.digest)
        # the store records a dataset once per experiment: two processes logging the same one at the
        # same instant (tuning workers) make one of them hit the unique key; it exists then
        retry_collisions(lambda: self.client.log_inputs(self.run_id, datasets=inputs), attempts=4, pause=0.2)
        self._keep_full_values()

    def dataset(self, context: str) -> tuple[str, str] | None:
        """The (name, digest) of the run's dataset input of this context ("testing", ...), if it has one."""
        if context in self._datasets:
            return self._datasets[context]
        run = self.client.get_run(self.run_id)  # a resumed run logged its datasets in an earlier process
        for item in run.inputs.dataset_inputs if run.inputs else []:
            if any(t.key == "mlflow.data.context" and t.value == context for t in item.tags):
                return item.dataset.name, item.dataset.digest
        return None

    def __enter__(self) -> MlflowRun:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        """End the run by how the block ended: FINISHED, KILLED (interrupted) or FAILED (reason tagged)."""
        if error is None:
            self.end("FINISHED")
        elif isinstance(error, KeyboardInterrupt | SystemExit | Interrupted):
            self.end("KILLED", "interrupted")
        else:
            self.end("FAILED", error.message if isinstance(error, DlkitError) else f"{type(error).__name__}: {error}")

    def end(self, status: str, reason: str | None = None, code: str | None = None) -> None:
        """Set the final status (FINISHED, FAILED or KILLED) once; `code` tags the kind of failure."""
        if self.ended:
            return
        self.ended = True
        lost: TrackingError | None = None
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.flush(close=True)
            except TrackingError as e:
                lost = e
                if status == "FINISHED":  # a run whose metrics did not all arrive is not a finished one
                    status, reason, code = "FAILED", e.message, "tracking"
        try:
            if code:
                self.set_tags({"dlkit.failure": code, "dlkit.failure_message": reason or code})
            elif reason:
                self.set_tags({"dlkit.failure": reason})
            self.client.set_terminated(self.run_id, status=status)
        except Exception as e:
            raise TrackingError(f"could not close run {self.run_id} in {self.tracking_uri}: {_first_line(e)}") from None
        if lost is not None and code == "tracking":
            raise lost


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
