"""Sound (data.kind audio): WAV clips resampled, cut or padded, turned into log-mel spectrograms; training
batches augmented; `dlkit train FOLDER`, predict, evaluate on voices never heard, explain, bad files.

The clips are spoken digits synthesised by espeak-ng (tests/spoken_digits.py), which `.ci/run` installs."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from scipy.io import wavfile

from dlkit.data.audio import augmenter, fit_length, log_mel, mel_filters, read_wav
from dlkit.data.infer import draft
from dlkit.recipe import load_text
from dlkit.training import run
from tests import spoken_digits
from tests.conftest import cli

needs_espeak = pytest.mark.skipif(
    not spoken_digits.available(), reason="espeak-ng is not installed (.ci/run installs it)"
)

PRE = {"sample_rate": 16000, "samples": 16000, "window": 400, "hop": 160, "n_fft": 512, "n_mels": 48}


def test_clips_are_read_resampled_and_turned_into_log_mel(tmp_path: Path) -> None:
    rate = 22050
    t = np.arange(int(0.5 * rate)) / rate
    tone = 0.5 * np.sin(2 * math.pi * 1000 * t)
    stereo = np.stack([tone, tone], axis=1)
    wavfile.write(tmp_path / "tone.wav", rate, (stereo * 32767).astype(np.int16))
    wave = read_wav(tmp_path / "tone.wav", 16000)
    assert len(wave) == 8000 and abs(np.abs(wave).max() - 0.5) < 0.01  # resampled, channels averaged
    assert len(fit_length(wave, 16000)) == 16000 and fit_length(wave, 16000)[8000:].max() == 0.0
    assert len(fit_length(wave, 4000)) == 4000
    spectrum = log_mel(fit_length(wave, 16000)[None], PRE)
    assert spectrum.shape == (1, 1, 101, 48)  # 1 + 16000 / 160 frames, time down, mel bands across
    # the tone's energy lies in the band whose filter peaks nearest 1 kHz; the padded half is silence
    filters = mel_filters(512, 48, 16000)
    peak = int(np.argmax(filters[:, round(1000 / (8000 / 256))]))
    assert int(np.argmax(spectrum[0, 0, 20])) == peak
    assert spectrum[0, 0, 70:].max() < spectrum[0, 0, 20].max() - 20
    import soundfile

    soundfile.write(tmp_path / "tone.flac", stereo, rate)  # 16-bit FLAC: the same samples, within rounding
    assert np.abs(read_wav(tmp_path / "tone.flac", 16000) - wave).max() < 1e-3
    (tmp_path / "bad.wav").write_bytes(b"not a wave file")
    with pytest.raises(Exception, match=re.escape("bad.wav: not a readable WAV file")):
        read_wav(tmp_path / "bad.wav", 16000)


def test_augmentation_shifts_rescales_and_masks_each_clip() -> None:
    from dlkit.recipe.audio import AudioAugment

    x = torch.randn(16, 1, 101, 48)
    torch.manual_seed(0)
    shifted = augmenter(AudioAugment(shift_ms=50), PRE, 1.0)(x)
    for i in range(16):  # each clip rolled along time by at most 5 frames, nothing lost
        assert any(torch.equal(shifted[i], x[i].roll(k, dims=1)) for k in range(-5, 6))
    louder = augmenter(AudioAugment(gain_db=10), PRE, 2.0)(x)
    change = (louder - x)[:, 0, 0, 0]
    assert torch.allclose((louder - x), change[:, None, None, None].expand_as(x), atol=1e-6)
    assert change.abs().max() <= 10 * math.log(10) / 10 / 2.0 + 1e-6
    masked = augmenter(AudioAugment(time_masks=1, time_mask_ms=100, freq_masks=1, freq_mask_bins=8), PRE, 1.0)(x)
    zero_frames = (masked == 0).all(dim=3)[:, 0].sum(dim=1)
    zero_bands = (masked == 0).all(dim=2)[:, 0].sum(dim=1)
    assert zero_frames.max() <= 10 and zero_bands.max() <= 8 and (zero_frames + zero_bands).sum() > 0


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not spoken_digits.available():
        pytest.skip("espeak-ng is not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("sound")
    voices = [f"{a}+{v}" for a in spoken_digits.ACCENTS for v in ("m1", "f1", "m3")]
    spoken_digits.spoken_digits(folder / "digits", speeds=(140, 170), pitches=(50,), voice_list=voices)
    spoken_digits.spoken_digits(folder / "held-out", held_out=True, speeds=(150,), pitches=(50,))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = cli("train", "digits", "trainer.max_epochs=12", "--tracking-uri", uri, cwd=folder)
    assert done.returncode == 0, done.stderr
    run_id = next(line.split()[2] for line in done.stdout.splitlines() if line.startswith("run id"))
    return {"folder": folder, "uri": uri, "run": run_id, "output": done.stdout}


@needs_espeak
def test_a_folder_of_clips_trains_from_the_inferred_recipe(digits: dict[str, Any]) -> None:
    assert "digits: 360 clips in 10 classes" in digits["output"]
    run = MlflowClient(digits["uri"]).get_run(digits["run"])
    assert run.data.params["data.kind"] == "audio" and run.data.params["data.sample_rate"] == "16000"
    assert run.data.metrics["test/acc"] >= 0.8


@needs_espeak
def test_voices_never_heard_are_recognised_predicted_and_explained(digits: dict[str, Any]) -> None:
    folder, uri, run_id = digits["folder"], digits["uri"], digits["run"]
    done = cli("evaluate", run_id, "--data", "held-out", "--tracking-uri", uri, cwd=folder)
    assert done.returncode == 0, done.stderr
    evaluation = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_run(run_id).info.experiment_id], f"tags.`dlkit.evaluated_run` = '{run_id}'"
    )[0]
    assert evaluation.data.metrics["test/acc"] >= 0.7  # 4 voices, other accents and variants
    done = cli("predict", run_id, "-i", "held-out", "-o", "pred.csv", "--tracking-uri", uri, cwd=folder)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(folder / "pred.csv")
    assert len(table) == 40 and {"path", "prediction", "prob_seven"} <= set(table.columns)
    right = (table["prediction"] == table["path"].map(lambda p: Path(p).parent.name)).mean()
    assert right == pytest.approx(evaluation.data.metrics["test/acc"], abs=1e-6)
    # the logged MLflow model takes rows naming clips and answers as dlkit predict does
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    finally:
        mlflow.set_tracking_uri(None)
    served = model.predict(pd.DataFrame({"path": [str(folder / p) for p in table["path"][:6]]}))
    assert list(served["prediction"]) == list(table["prediction"][:6])
    assert np.allclose(served["prob_seven"], table["prob_seven"][:6], atol=1e-5)
    clip = next((folder / "held-out" / "seven").glob("*.wav"))
    done = cli("explain", run_id, "-i", str(clip), "--tracking-uri", uri, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert list(folder.glob("explain-*/integrated_gradients.png"))


@needs_espeak
def test_a_bad_clip_or_folder_stops_before_training(digits: dict[str, Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    for word in ("yes", "no"):
        (broken / word).mkdir(parents=True)
        for src in list((digits["folder"] / "digits" / "one").glob("*.wav"))[:3]:
            (broken / word / src.name).write_bytes(src.read_bytes())
    (broken / "no" / "corrupt.wav").write_bytes(b"RIFF....")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    done = cli("train", "broken", "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 2 and "corrupt.wav: not a readable WAV file" in done.stderr, done.stderr
    if (tmp_path / "m.db").exists():  # no run was opened for it
        client = MlflowClient(uri)
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
    (broken / "no" / "corrupt.wav").unlink()
    recipe = f"name: x\ndata: {{kind: audio, path: {broken}}}\ntask: {{kind: regression}}\nmodel: {{arch: cnn}}\n"
    with pytest.raises(
        Exception, match=re.escape("task.kind: regression does not fit data.kind audio; set task: classification")
    ):
        load_text(recipe)


@needs_espeak
def test_a_table_of_clips_with_a_split_column_holds_voices_out(digits: dict[str, Any], tmp_path: Path) -> None:
    """data.kind audio over a table: clip paths relative to the table, labels, and the held-out voices as
    the test split by a split column."""
    folder = digits["folder"]
    rows = []
    for part, sub in (("train", "digits"), ("test", "held-out")):
        for clip in sorted((folder / sub).rglob("*.wav")):
            voice = clip.stem.rsplit("-", 2)[0]
            rows.append({"file": str(clip.relative_to(folder)), "word": clip.parent.name, "part": part, "voice": voice})
    table = pd.DataFrame(rows)
    table.loc[table["voice"] == "en-gb_m1", "part"] = "val"
    table.to_csv(folder / "clips.csv", index=False)
    # dlkit train clips.csv --target word: the same recipe, inferred
    inferred = draft(str(folder / "clips.csv"), "word").recipe["data"]
    assert (inferred["kind"], inferred["path_column"], inferred["split_column"]) == ("audio", "file", "part")
    recipe = load_text(
        f"name: clips\ndata: {{kind: audio, path: {folder / 'clips.csv'}, target: word, path_column: file, "
        "split_column: part, duration: 1.2, n_mels: 48}\ntask: {kind: classification}\n"
        "model: {arch: cnn, channels: [16, 32], hidden: [64]}\ntrainer: {max_epochs: 8}\n"
    )
    result = run(recipe, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", say=lambda _: None, progress_bar=False)
    assert result.test_metrics["test/acc"] >= 0.6  # the 40 held-out clips: 4 voices never heard
    done = cli("predict", result.run_id, "-i", "clips.csv", "-o", "p.csv", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}",
                   cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(folder / "p.csv")) == len(table)
    table.loc[3, "file"] = "digits/zero/nowhere.wav"
    table.to_csv(folder / "clips.csv", index=False)
    with pytest.raises(Exception, match=re.escape("data.path_column: clips.csv row 4 names")):
        run(recipe, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", say=lambda _: None, progress_bar=False)
