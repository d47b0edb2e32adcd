"""The benchmarks run and print their rows: figures, a ratio, and a verdict where a target applies.

They are measurements, not tests; these checks only keep their code working between the runs of
`nox -s bench` (and keep the GPU row ready for a machine that has one).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from benchmarks import (
    contention,
    gpu,
    images,
    levers,
    listing,
    scaling,
    sequences,
    startup,
    study_scale,
    throughput,
)
from benchmarks.common import paired_ratio

RATIO = re.compile(r"^\d+\.\d+x$")


def test_paired_ratio_is_the_median_of_each_pairs_own_ratio() -> None:
    # the second pair ran while the machine was twice as fast: both sides of it moved together
    assert paired_ratio([10.0, 20.0, 9.0], [10.0, 20.0, 10.0]) == pytest.approx(1.0)
    assert paired_ratio([1.0, 3.0, 2.0], [2.0, 2.0, 2.0]) == pytest.approx(1.0)


def test_the_gpu_benchmark_runs_its_code_on_the_cpu(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gpu.main(["--device", "cpu", "--samples", "768", "--epochs", "2", "--batch", "64", "--widths", "4,8",
              "--blocks", "1,1", "--repeats", "2"])  # fmt: skip
    lines = [line for line in capsys.readouterr().out.splitlines() if "resnet bf16 eager vs hand loop" in line]
    assert len(lines) == 1
    assert lines[0].startswith("CPU check, not a measurement")
    found = re.search(r"test/acc (\d\.\d{3})\)\s+([\d,]+) img/s\s+([\d,]+) img/s\s+(\d+\.\d\d)x\s*$", lines[0])
    assert found, lines[0]
    assert 0 <= float(found[1]) <= 1
    assert int(found[2].replace(",", "")) > 0 and int(found[3].replace(",", "")) > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_the_gpu_benchmark_without_a_gpu_says_what_to_run(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        gpu.main([])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU here" in err and "--device cpu" in err


def test_gpu_benchmark_refuses_a_run_with_nothing_to_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        gpu.main(["--device", "cpu", "--epochs", "1"])
    assert "--epochs must be at least 2" in capsys.readouterr().err


def test_startup_rows() -> None:
    rows = startup.measure(repeats=1)
    assert [r.name for r in rows] == [
        "start-up: dlkit --help",
        "start-up: dlkit recipes ls",
        "start-up: dlkit recipes validate",
        "start-up: dlkit models",
    ]
    for row in rows:
        command = row.name.removeprefix("start-up: ")
        assert RATIO.match(row.ratio) and (row.ok is not None) == (command in startup.TARGETS)
        assert row.target == (f"<= {startup.TARGETS[command]} s" if command in startup.TARGETS else "")


@pytest.mark.slow
def test_listing_rows() -> None:
    """40 runs in a store and an MLflow UI started twice: a benchmark run, like the other rows' checks."""
    rows = listing.measure(repeats=1, runs=40)
    assert [r.name.removeprefix("listing (40 runs): dlkit ") for r in rows] == [
        "runs ls", "runs ls --limit 1000", "compare RUN RUN", "compare --experiment (50 newest)",
        "listing: dlkit ui ready vs mlflow ui on the same store",
    ]  # fmt: skip
    assert [r.target for r in rows] == ["<= 1.0 s", "<= 1.0 s", "<= 2.0 s", "<= 2.0 s", "<= 1x"]
    assert all(RATIO.match(r.ratio) and r.ok is not None for r in rows)


@pytest.mark.slow
def test_contention_rows() -> None:
    rows = contention.measure(repeats=1, names=("digits-mlp",))
    assert [r.name.split(" vs ")[0] for r in rows] == ["contention: digits-mlp, busy, dlkit"] * 2 + [
        "contention: digits-mlp, idle, dlkit"
    ]
    assert all(RATIO.match(r.ratio) for r in rows) and rows[0].target == ">= 3x" and rows[2].target == ">= 0.95x"
    assert rows[0].ok is not None and rows[1].ok is None and rows[2].ok is not None


@pytest.mark.slow
def test_sequence_rows() -> None:
    (row,) = sequences.measure(repeats=1, names=("GRU forecaster",), steps=3_000)
    assert row.name == "sequences: GRU forecaster, 3,000 steps, dlkit vs hand loop"
    assert RATIO.match(row.ratio) and row.target == ">= 0.9x" and row.ok is not None


@pytest.mark.slow
def test_scaling_rows() -> None:
    rows = scaling.measure(repeats=1, sizes=(2_000, 6_000))
    assert [r.name.split(",")[0] for r in rows] == [
        *(["scaling: read and preprocess", "scaling: epoch throughput", "scaling: peak memory"] * 2),
        "scaling: read growth", "scaling: epoch growth", "scaling: memory growth",
    ]  # fmt: skip
    assert all(RATIO.match(r.ratio) and r.ok is not None for r in rows), rows
    columns = re.search(r"\((\d+) columns\)", rows[2].baseline)
    assert columns and int(columns[1]) >= 10 + 4 + 12 + 30, rows[2]  # the numbers and every category one-hot


@pytest.mark.slow
def test_image_rows() -> None:
    rows = images.measure(repeats=1, sizes=(600, 1_800))
    assert [r.name for r in rows] == [
        "images: streaming 600 PNGs, dlkit vs hand DataLoader (2 workers)",
        "images: peak memory, 600 PNGs: dlkit's process / largest worker",
        "images: streaming 1,800 PNGs, dlkit vs hand DataLoader (2 workers)",
        "images: peak memory, 1,800 PNGs: dlkit's process / largest worker",
        "images: peak memory growth, 600 to 1,800 PNGs",
    ]
    assert all(RATIO.match(r.ratio) and r.ok is not None for r in (rows[0], rows[2], rows[4])), rows
    assert rows[1].ok is None and "MiB decoded" in rows[1].baseline


@pytest.mark.slow
def test_study_rows() -> None:
    rows = study_scale.measure(trials=4)
    assert [r.name.split(",")[0] for r in rows] == [
        "tuning: dlkit's own cost per trial", "tuning: the study's end after 4 trials (best trials' reports"
    ]  # fmt: skip
    assert RATIO.match(rows[0].ratio) and all(r.ok is not None for r in rows)
    assert "(4 with reports)" in rows[0].name  # four trials are all among the five best


@pytest.mark.slow
def test_throughput_rows(workdir: Path) -> None:
    rows = throughput.measure(repeats=1)
    names = [r.name for r in rows]
    assert names == [
        "throughput: digits-cnn vs hand loop",
        "throughput: digits-cnn vs plain Lightning",
        "throughput: digits-mlp vs hand loop",
        "throughput: digits-mlp vs plain Lightning",
        "whole epochs: digits-mlp vs hand loop with validation",
        "whole epochs: digits-mlp, dlkit's fixed cost per epoch",
        "whole runs: digits-mlp, dlkit's cost outside the 22 epochs",
        "whole epochs: digits-cnn vs hand loop with validation",
        "whole epochs: digits-cnn, dlkit's fixed cost per epoch",
        "whole runs: digits-cnn, dlkit's cost outside the 22 epochs",
        "tracking: digits-cnn epochs with MLflow vs without",
        "tracking: digits-mlp epochs with MLflow vs without",
    ]
    for row in rows:
        if "fixed cost" in row.name:  # a difference of two times, not a ratio
            assert re.match(r"^-?\d+\.\d ms$", row.value) and row.ok is None, row
            continue
        if row.name.startswith("whole runs"):  # seconds of the run outside its epochs
            assert re.match(r"^\d+\.\d\d s$", row.value) and row.ok is None, row
            continue
        assert RATIO.match(row.ratio), row
        assert float(row.ratio[:-1]) > 0.05  # all three loops trained on the same data, none stalled


@pytest.mark.slow
def test_lever_rows_restore_the_levers(workdir: Path) -> None:
    from dlkit.training.checkpointing import CheckpointWriter

    budget = CheckpointWriter.budget
    rows = levers.measure(repeats=1)
    assert [r.name.split(",")[0] for r in rows] == ["lever: checkpoint write budget"]
    assert all(RATIO.match(r.ratio) and r.ok is not None for r in rows)
    assert CheckpointWriter.budget == budget  # measured, then put back


def test_quality_row_compares_dlkit_with_the_baselines_on_its_split(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.datasets import load_wine

    from benchmarks import quality

    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = workdir / "wine.csv"
    frame.to_csv(path, index=False)
    case = quality.Case("wine", "-", "-", "target", "classification")
    row = quality.measure_file(case, path, workdir, tune=False, trials=0)
    assert row["metric"] == "f1" and 0.8 < row["dlkit"]["f1"] <= 1.0
    assert row["baseline"] in {"logistic", "logistic balanced", "hist-gb", "hist-gb balanced"}
    assert row["ratio"] == pytest.approx(row["dlkit"]["f1"] / row["baseline_scores"]["f1"])
    quality.print_rows([row, {"case": "broken", "error": "no such column"}], tune=False)
    out = capsys.readouterr().out
    assert "| wine | 178 |" in out and "FAILED: no such column" in out and "on 1/2" in out


def test_quality_series_baselines_forecast_the_test_period(workdir: Path) -> None:
    from benchmarks import quality
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "monthly-sunspots.csv"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    case = quality.Case("sunspots", "-", "-", "Sunspots", "forecasting", time="Month")
    scores = quality.series_baselines(quality._recipe(path, case))
    assert set(scores) == {"naive", "seasonal naive", "hist-gb lags"}
    assert 10 < scores["hist-gb lags"]["rmse"] < scores["seasonal naive"]["rmse"]
