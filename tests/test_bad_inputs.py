"""The bad-input corpus: every malformed recipe, override, data file, argument and checkpoint gives exit 2,
one line naming the problem (and at most a hint), no traceback, no run left RUNNING, nothing written.

Recipes and data files live in tests/bad_inputs/; checkpoints (one of another architecture, one carrying a
pickled code payload) are made by the fixtures below, so that no exploit file sits in the repository.
"""

from __future__ import annotations

import pickle
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlkit.cli.app import run as main

CORPUS = Path(__file__).parent / "bad_inputs"
IRIS = ["train", "iris-mlp", "trainer.max_epochs=1"]

# (id, arguments, what the message must say); {dir} is the corpus folder, {cnn}/{mlp}/{evil} checkpoints
CASES: list[tuple[str, list[str], str]] = [
    ("yaml-syntax", ["train", "{dir}/yaml_syntax.yaml"], "yaml_syntax.yaml:4: YAML syntax error"),
    ("not-a-mapping", ["train", "{dir}/not_a_mapping.yaml"], "a recipe must be a mapping"),
    ("empty-recipe", ["train", "{dir}/empty.yaml"], "the recipe is empty"),
    # an empty argument is not the working folder (Path("") is "."): each command says it is empty
    ("empty-recipe-name", ["train", ""], "RECIPE: the name is empty"),
    ("empty-recipe-name-show", ["recipes", "show", " "], "RECIPE: the name is empty"),
    ("empty-data-argument", ["init", ""], "DATA: '' is not a data file"),
    ("unknown-key", ["train", "{dir}/unknown_key.yaml"], "did you mean 'max_epochs'"),
    ("wrong-type", ["train", "{dir}/wrong_type.yaml"], "trainer.max_epochs: Input should be a valid integer"),
    ("negative-lr", ["train", "{dir}/negative_lr.yaml"], "optim.lr: Input should be greater than 0"),
    ("unknown-arch", ["train", "{dir}/unknown_arch.yaml"], "did you mean 'mlp'"),
    ("unknown-task", ["train", "{dir}/unknown_task.yaml"], "did you mean 'classification'"),
    ("unknown-dataset", ["train", "{dir}/unknown_dataset.yaml"], "got 'irises'"),
    ("billion-hidden-units", ["train", "{dir}/billion_hidden.yaml"], "model.hidden.0: Input should be less than"),
    ("task-data-mismatch", ["train", "{dir}/task_data_mismatch.yaml"], "is a classification dataset"),
    ("tune-unknown-key", ["tune", "{dir}/tune_unknown_key.yaml"], "tune.space.optim.lrr"),
    ("tune-metric-not-logged", ["tune", "{dir}/tune_metric_not_logged.yaml"], "'val/rmse' is not logged"),
    ("tune-reversed-range", ["tune", "{dir}/tune_bad_range.yaml"], "low 0.5 must be below high 0.1"),
    ("grid-without-step", ["tune", "{dir}/grid_float_without_step.yaml"], "the grid sampler needs a step"),
    ("multi-objective-pruner", ["tune", "{dir}/multi_objective_pruner.yaml"], "prunes single-objective"),
    ("heads-do-not-divide", ["train", "{dir}/heads_do_not_divide.yaml"], "heads 4 must divide d_model 30"),
    ("missing-data-file", ["train", "{dir}/missing_data_file.yaml"], "does-not-exist.csv does not exist"),
    ("wrong-target-column", ["train", "{dir}/csv_wrong_target.yaml"], "did you mean 'label'"),
    ("header-only-csv", ["train", "{dir}/csv_header_only.yaml"], "has a header but no rows"),
    ("zero-byte-csv", ["train", "{dir}/csv_zero_bytes.yaml"], "zero_bytes.csv is empty"),
    ("nan-cells", ["train", "{dir}/csv_nan_cells.yaml"], "column 'b' has 6 missing value(s)"),
    ("wrong-encoding", ["train", "{dir}/csv_latin1.yaml"], "is not valid utf-8 text (line 2"),
    ("text-in-numeric-column", ["train", "{dir}/csv_text_feature.yaml"], "column 'colour' is not numeric"),
    ("duplicate-columns", ["train", "{dir}/csv_duplicate_columns.yaml"], "has two columns named 'a'"),
    ("all-empty-column", ["train", "{dir}/csv_empty_column.yaml"], "column(s) empty in every row: 'notes'"),
    ("target-as-text", ["train", "{dir}/text_target_is_text.yaml"], "column 'label' is the target"),
    ("single-class", ["train", "{dir}/csv_one_class.yaml"], "single class ('x')"),
    ("text-regression-target", ["train", "{dir}/csv_regression_text_target.yaml"], "is not numeric; task regression"),
    ("missing-text-column", ["train", "{dir}/text_missing_column.yaml"], "no column 'body'"),
    ("duplicate-timestamps", ["train", "{dir}/series_duplicates.yaml"], "appears more than once"),
    ("series-gaps", ["train", "{dir}/series_gaps.yaml"], "the series has gaps: 5 missing timestamp(s)"),
    ("window-longer-than-data", ["train", "{dir}/series_window_too_long.yaml"], "longer than the series"),
    ("one-image-class", ["train", "{dir}/images_one_class.yaml"], "needs one subfolder per class"),
    ("corrupt-image", ["train", "{dir}/images_corrupt.yaml"], "broken.png cannot be decoded"),
    ("not-an-npz", ["train", "{dir}/arrays_not_npz.yaml"], "is not a readable .npz file"),
    ("unfreeze-without-freeze", ["train", "{dir}/unfreeze_without_freeze.yaml"], "needs model.freeze"),
    ("duplicate-yaml-key", ["train", "{dir}/duplicate_key.yaml"], "task: key appears twice"),
    ("tab-indentation", ["train", "{dir}/tab_indent.yaml"], "YAML syntax error"),
    ("alias-bomb", ["train", "{dir}/alias_bomb.yaml"], "alias_bomb.yaml:6: aliases expand the YAML past"),
    ("deep-nesting", ["train", "{dir}/deep_nesting.yaml"], "deep_nesting.yaml:2: nested deeper than 64"),
    ("deep-mapping", ["train", "{dir}/deep_mapping.yaml"], "deep_mapping.yaml:2: nested deeper than 64"),
    ("self-alias", ["train", "{dir}/self_alias.yaml"], "alias *a refers to a node that contains it"),
    ("deep-override", [*IRIS, "extra=" + "[" * 5000 + "]" * 5000], "override 'extra': nested deeper"),
    ("tune-step-wider-than-range", ["tune", "{dir}/tune_step_wider.yaml"], "step 20 is wider than the range 5..10"),
    ("tune-int-log-with-step", ["tune", "{dir}/tune_int_log_step.yaml"], "step cannot be combined with log"),
    ("batch-size-true", ["train", "{dir}/batch_size_true.yaml"], "data.batch_size: expected a number, not true"),
    ("bad-tag-key", ["train", "{dir}/tag_key_bad.yaml"], "tag key 'bad key!'"),
    ("override-bad-tag-key", [*IRIS, "tracking.tags.bad key!=v"], "tag key 'bad key!'"),
    ("override-bool-learning-rate", [*IRIS, "optim.lr=true"], "optim.lr: expected a number, not true"),
    ("negative-seed", [*IRIS, "trainer.seed=-5"], "trainer.seed: Input should be greater than or equal to 0"),
    ("huge-seed", [*IRIS, f"trainer.seed={2**64 + 1}"], "trainer.seed: Input should be less than or equal to"),
    ("negative-split-seed", [*IRIS, "data.seed=-1"], "data.seed: Input should be greater than or equal to 0"),
    ("huge-target", ["train", "{dir}/huge_target.csv", "--target", "y"], "holds 1e+308 in data row 10; targets"),
    ("huge-feature", ["train", "{dir}/huge_feature.csv", "--target", "y"], "column 'b' holds 1e+308 in data row 5"),
    ("decompression-bomb", ["train", "{dir}/images_bomb.yaml"], "huge.png is too large to decode safely"),
    ("storage-not-a-journal", ["tune", "digits-cnn", "--storage", "{dir}/not_arrays.npz"], "is not an Optuna journal"),
    ("storage-is-a-folder", ["tune", "digits-cnn", "--storage", "{dir}"], "bad_inputs is a folder"),
    ("studies-not-a-journal", ["studies", "--storage", "{dir}/table.csv"], "is not an Optuna journal"),
    ("device-as-data-file", ["train", "{dir}/device_as_data.yaml"], "/dev/zero is not a regular file"),
    ("half-precision-on-cpu", [*IRIS, "trainer.precision=16-true", "trainer.accelerator=cpu"], "16-true: float16"),
    ("cpu-devices-beyond-cores", [*IRIS, "trainer.devices=1000"], "trainer.devices 1000: on the CPU each device"),
    ("experiment-name-too-long", [*IRIS, "tracking.experiment=" + "e" * 501], "tracking.experiment: String should"),
    ("tune-jobs-beyond-cores", ["tune", "digits-cnn", "--jobs", "999"], "--jobs 999: this machine has"),
    ("model-beyond-memory", [*IRIS, "model.hidden=[65536,65536,65536]"], "training it needs about"),
    ("override-before-recipe", ["train", "trainer.max_epochs=1"], "is an override, but no recipe comes before it"),
    ("two-yaml-documents", ["train", "{dir}/two_documents.yaml"], "two_documents.yaml:3: YAML syntax error: a second"),
    ("tag-value-mismatch", ["train", "{dir}/tag_mismatch.yaml"], "tag_mismatch.yaml:4: YAML tag: could not convert"),
    ("override-tag-mismatch", [*IRIS, "optim.lr=!!float x"], "the value does not fit its YAML tag"),
    ("proc-file-as-checkpoint", ["evaluate", "/proc/self/status"], "/proc/self/status is not a safe checkpoint"),
    ("python-object-tag", ["train", "{dir}/python_tag.yaml"], "could not determine a constructor"),
    ("missing-init-checkpoint", ["train", "{dir}/init_from_missing.yaml"], "is neither an existing checkpoint"),
    ("override-without-equals", [*IRIS, "optim.lr"], "optim.lr"),
    ("override-unknown-key", [*IRIS, "optim.lrr=0.1"], "did you mean 'lr'"),
    ("override-broken-yaml", [*IRIS, "model.hidden=[1,"], "model.hidden"),
    ("override-wrong-type", [*IRIS, "trainer.max_epochs=abc"], "trainer.max_epochs"),
    ("override-out-of-range", [*IRIS, "data.val_fraction=1.5"], "data.val_fraction"),
    ("override-bad-precision", [*IRIS, "trainer.precision=8-bit"], "trainer.precision"),
    ("override-zero-batch", [*IRIS, "data.batch_size=0"], "data.batch_size"),
    ("override-zero-threads", [*IRIS, "trainer.num_threads=0"], "trainer.num_threads"),
    ("unknown-recipe", ["train", "digits-cnnn"], "digits-cnn"),
    ("one-fold", [*IRIS, "--folds", "1"], "--folds"),
    ("unknown-option", [*IRIS, "--epochs", "3"], "No such option: --epochs"),
    ("tune-without-section", ["tune", "iris-mlp"], "iris-mlp: no tune section to search"),
    ("tune-storage-folder-missing", ["tune", "digits-cnn", "--storage", "{dir}/no/such/s.journal"], "does not exist"),
    ("store-folder-missing", [*IRIS, "--tracking-uri", "sqlite:///{dir}/no/such/mlflow.db"], "does not exist"),
    ("store-is-a-folder", [*IRIS, "--tracking-uri", "sqlite:///{dir}"], "is a folder, not a database file"),
    ("store-is-not-sqlite", [*IRIS, "--tracking-uri", "sqlite:///{dir}/table.csv"], "is not an SQLite database"),
    ("runs-store-is-a-folder", ["runs", "ls", "--tracking-uri", "sqlite:///{dir}"], "is a folder, not a database"),
    ("predict-unknown-run", ["predict", "0123456789abcdef0123456789abcdef", "-i", "x.csv", "-o", "y.csv"], "no MLflow"),
    ("predict-missing-input", ["predict", "{mlp}", "-i", "{dir}/nothing.csv", "-o", "out.csv"], "does not exist"),
    ("predict-wrong-columns", ["predict", "{mlp}", "-i", "{dir}/table.csv", "-o", "out.csv"], "column 'sepal"),
    ("evaluate-a-folder", ["evaluate", "{dir}"], "is a folder"),
    ("evaluate-unlabelled", ["evaluate", "{mlp}", "--data", "{dir}/zero_bytes.csv"], "zero_bytes.csv has no data"),
    ("checkpoint-of-another-architecture", ["train", "digits-mlp", "model.init_from={cnn}"], "model.init_from"),
    ("explain-unknown-method", ["explain", "{mlp}", "-i", "{dir}/table.csv", "--method", "lime"], "--method lime"),
    ("pickled-code-in-checkpoint", ["predict", "{evil}", "-i", "{dir}/table.csv", "-o", "out.csv"], "not a safe"),
    ("pickled-code-as-init", ["train", "iris-mlp", "model.init_from={evil}"], "not a safe checkpoint"),
]
if not torch.cuda.is_available():
    CASES.append(("gpu-on-a-machine-without-one", [*IRIS, "trainer.accelerator=gpu"], "No supported gpu backend"))


class Payload:
    """Unpickling this runs a command: a safe loader must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dlkit MLP (iris) and CNN (digits) checkpoint, and a checkpoint that carries a code payload."""
    from dlkit.recipe import load
    from dlkit.training import run

    folder = tmp_path_factory.mktemp("checkpoints")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    out: dict[str, Path] = {}
    for key, name in (("mlp", "iris-mlp"), ("cnn", "digits-cnn")):
        result = run(load(name, ["trainer.max_epochs=1"]), tracking_uri=uri, say=lambda _: None, progress_bar=False)
        assert result.best_checkpoint is not None
        out[key] = Path(result.best_checkpoint)
    evil = folder / "evil.ckpt"
    with evil.open("wb") as f:
        pickle.dump({"state_dict": {}, "dlkit": Payload(folder / "PWNED")}, f)
    out["evil"] = evil
    out["marker"] = folder / "PWNED"
    return out


def _fill(args: list[str], checkpoints: dict[str, Path]) -> list[str]:
    values = {"dir": str(CORPUS), **{k: str(v) for k, v in checkpoints.items()}}
    return [a.format(**values) for a in args]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as info:
            main(args)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return int(info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clean_line_and_leaves_nothing(
    args: list[str], message: str, workdir: Path, checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    corpus_before = sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*"))
    code, err = _run(_fill(args, checkpoints), capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert lines and lines[0].startswith("error: ") and message in lines[0], lines
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), lines
    # nothing written: no store, no run, no file in the working directory or the corpus
    assert sorted(p.name for p in workdir.iterdir()) == []
    assert sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*")) == corpus_before
    assert not checkpoints["marker"].exists(), "the pickled payload ran"


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)
    assert len(list(CORPUS.glob("*.yaml"))) >= 30


KEYS = st.sampled_from(
    [
        "optim.lr",
        "optim.name",
        "model.hidden",
        "model.dropout",
        "model.arch",
        "trainer.max_epochs",
        "trainer.precision",
        "data.batch_size",
        "data.name",
        "task",
        "task.kind",
        "tune.space",
        "tune.metric",
        "name",
        "data",
        "model",
        "trainer.early_stopping.patience",
        "optim.scheduler.name",
    ]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz._[]0123456789", min_size=1, max_size=30)
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.lists(st.integers(min_value=-5, max_value=10**10), max_size=4).map(str),
    st.sampled_from(["null", "~", "{}", "[]", "{a: 1}", "[[", "'", '"', "!!python/none", "*anchor", "&x 1"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS, value=VALUES)
def test_random_overrides_never_raise_a_traceback(key: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["recipes", "validate", "digits-cnn", "--set", f"{key}={value}"], capsys)
    assert code in (0, 2), err
    assert "Traceback" not in err and "unexpected" not in err
