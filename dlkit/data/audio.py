"""Sound: a folder with one subfolder of WAV (or FLAC) clips per class, read as log-mel spectrograms.

Each clip is resampled to data.sample_rate, cut or padded with silence to data.duration and turned into a
log-mel spectrogram with PyTorch ops. A clip is 1 x frames x mel bands (time runs down the "image"), so
the convolutional networks read it as an image and the recurrent and transformer ones read its frames as
steps. Spectrograms are standardised with training statistics; augmentation (time shift, gain, noise,
SpecAugment masks) runs on training batches only, on the device the batch is on.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlkit.data.base import SplitDataModule, build_module
from dlkit.data.files import AUDIO_EXTENSIONS, class_files, column, existing, files_to_read, folder_labels, read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import RawInputs, class_codes, input_column
from dlkit.data.scaling import apply_scaler
from dlkit.data.splits import assign
from dlkit.data.table_images import FOLDER
from dlkit.errors import DataError
from dlkit.recipe.audio import AudioData
from dlkit.recipe.schema import Recipe
from dlkit.schema_base import section

#: added to the mel energies before the logarithm: silence becomes a finite floor
FLOOR = 1e-6
#: clips turned into spectrograms at once (bounds the memory of the short-time Fourier transform)
CHUNK = 256


def settings(p: AudioData) -> dict[str, int]:
    """Samples per clip, window, hop and FFT sizes in samples, and the mel bands: saved with the run."""
    window = max(2, round(p.window_ms * p.sample_rate / 1000))
    return {
        "sample_rate": p.sample_rate,
        "samples": max(1, round(p.duration * p.sample_rate)),
        "window": window,
        "hop": max(1, round(p.hop_ms * p.sample_rate / 1000)),
        "n_fft": 1 << (window - 1).bit_length(),
        "n_mels": p.n_mels,
    }


def decoded(path: Path) -> tuple[int, np.ndarray]:
    """The clip's sample rate and samples: WAV with scipy, FLAC with soundfile (the audio extra)."""
    if path.suffix.lower() == ".flac":
        try:
            import soundfile
        except ImportError:
            raise DataError(f"{path}: FLAC clips need the audio extra", hint="pip install 'dlkit[audio]'") from None
        try:
            data, source_rate = soundfile.read(path, dtype="float32")
        except (RuntimeError, OSError) as e:  # soundfile.LibsndfileError is a RuntimeError
            raise DataError(f"{path}: not a readable FLAC file ({str(e).splitlines()[0]})", hint="remove it") from None
        return int(source_rate), data
    from scipy.io import wavfile

    try:
        source_rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable WAV file ({str(e).splitlines()[0]})",
                        hint="convert it to PCM WAV, or remove it") from None  # fmt: skip
    return int(source_rate), data


def read_wav(path: Path, rate: int) -> np.ndarray:
    """A clip (WAV or FLAC) as mono float32 in [-1, 1] at `rate` Hz (channels averaged, resampled when needed)."""
    from scipy.signal import resample_poly

    source_rate, data = decoded(path)
    if data.dtype == np.uint8:
        wave = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        wave = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    else:
        wave = data.astype(np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.size == 0:
        raise DataError(f"{path}: the clip holds no samples", hint="remove it")
    if source_rate != rate:
        common = math.gcd(int(source_rate), rate)
        wave = resample_poly(wave, rate // common, int(source_rate) // common).astype(np.float32)
    return wave


def fit_length(wave: np.ndarray, samples: int) -> np.ndarray:
    """The clip's first `samples` samples, padded with silence at the end."""
    if len(wave) >= samples:
        return wave[:samples]
    return np.pad(wave, (0, samples - len(wave)))


def mel_filters(n_fft: int, n_mels: int, rate: int) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale (HTK formula), (n_mels, n_fft // 2 + 1)."""
    bins = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    mel = 2595.0 * np.log10(1.0 + np.array([0.0, rate / 2]) / 700.0)
    edges = 700.0 * (10 ** (np.linspace(mel[0], mel[1], n_mels + 2) / 2595.0) - 1.0)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - low) / np.maximum(centre - low, 1e-9)
    falling = (high - bins[None]) / np.maximum(high - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)  # type: ignore[no-any-return]


def log_mel(waves: np.ndarray, pre: dict[str, Any]) -> np.ndarray:
    """Clips (N, samples) -> log-mel spectrograms (N, 1, frames, n_mels), float32."""
    filters = torch.from_numpy(mel_filters(pre["n_fft"], pre["n_mels"], pre["sample_rate"]))
    window = torch.hann_window(pre["window"])
    out = []
    for start in range(0, len(waves), CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(waves[start : start + CHUNK], dtype=np.float32))
        spectrum = torch.stft(chunk, pre["n_fft"], pre["hop"], pre["window"], window, center=True, return_complex=True)
        power = spectrum.abs() ** 2  # (N, frequencies, frames)
        mel = torch.einsum("mf,nft->ntm", filters, power)
        out.append(torch.log(mel + FLOOR)[:, None].numpy())
    return np.concatenate(out) if out else np.empty((0, 1, 0, pre["n_mels"]), np.float32)


def spectrograms(files: list[Path], pre: dict[str, Any]) -> np.ndarray:
    waves = np.stack([fit_length(read_wav(f, pre["sample_rate"]), pre["samples"]) for f in files])
    return log_mel(waves, pre)


def resolved(named: Any, folder: Path) -> list[Path]:
    """Clip paths as a table writes them: absolute, or relative to the table's folder."""
    return [Path(str(v)) if Path(str(v)).is_absolute() else folder / str(v) for v in named]


def _inputs(files: list[Path], pre: dict[str, Any]) -> np.ndarray:
    """New clips as the run's inputs: spectrograms scaled with the training statistics."""
    x = spectrograms(files, pre)
    return (apply_scaler(x, pre["scaler"]) if "scaler" in pre else x).astype(np.float32)  # type: ignore[no-any-return]


def augmenter(params: Any, pre: dict[str, Any], scale: float) -> Any:
    """A function that shifts clips in time, changes their loudness, adds noise and masks spans of frames
    and bands of mel bins, on a batch of standardised spectrograms (N, 1, frames, n_mels)."""
    if params is None:
        return None
    hop_ms = 1000.0 * pre["hop"] / pre["sample_rate"]
    shift = round(params.shift_ms / hop_ms)
    # a gain of g dB adds g * ln(10) / 10 to the log energies: in standardised units, divided by the scale
    gain = params.gain_db * math.log(10) / 10 / scale
    time_width = max(1, round(params.time_mask_ms / hop_ms))

    def masked(x: torch.Tensor, masks: int, width: int, axis: int) -> torch.Tensor:
        n, size = x.shape[0], x.shape[axis]
        positions = torch.arange(size, device=x.device)
        for _ in range(masks):
            wide = torch.randint(0, min(width, size) + 1, (n, 1), device=x.device)
            start = (torch.rand(n, 1, device=x.device) * (size - wide + 1)).long()
            inside = (positions[None] >= start) & (positions[None] < start + wide)  # (n, size)
            shape = [n, 1, 1, 1]
            shape[axis] = size
            x = x.masked_fill(inside.view(shape), 0.0)  # 0: the training mean
        return x

    def augment(x: torch.Tensor) -> torch.Tensor:
        n, frames = x.shape[0], x.shape[2]
        if shift:  # a circular shift: a word said early in its clip is moved, never cut off
            moved = torch.randint(-shift, shift + 1, (n, 1), device=x.device)
            source = (torch.arange(frames, device=x.device)[None] - moved) % frames  # (n, frames)
            x = x.gather(2, source[:, None, :, None].expand_as(x))
        if gain:
            x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2 - 1) * gain
        if params.noise:
            x = x + torch.randn_like(x) * params.noise
        x = masked(x, params.time_masks, time_width, 2)
        return masked(x, params.freq_masks, params.freq_mask_bins, 3)

    return augment


def _listed(table: Path, p: AudioData) -> tuple[list[Path], np.ndarray, list[str], np.ndarray | None]:
    """A table's clips (paths relative to its folder), class codes, class names and split marks."""
    frame, _ = read_table(None, path=table, field="data.path")
    if p.target is None:
        raise DataError(f"data.target: {table.name} is a table of clips; name its label column",
                        hint="or give a folder with one subfolder of clips per class")  # fmt: skip
    labels = frame[column(frame, p.target, "data.target")]
    paths = frame[column(frame, p.path_column, "data.path_column")]
    if labels.isna().any() or paths.isna().any():
        row = int(np.flatnonzero((labels.isna() | paths.isna()).to_numpy())[0]) + 1
        raise DataError(
            f"data.path: {table.name} row {row} has no clip path or no label", hint="fill it in or remove it"
        )
    files = resolved(paths, table.parent)
    missing = next((i for i, f in enumerate(files) if not f.is_file()), None)
    if missing is not None:
        raise DataError(
            f"data.path_column: {table.name} row {missing + 1} names {files[missing]}, which does not exist"
        )
    classes = sorted({str(v) for v in labels})
    codes = np.asarray([classes.index(str(v)) for v in labels], dtype=np.int64)
    marks = frame[column(frame, p.split_column, "data.split_column")].to_numpy() if p.split_column is not None else None
    return files, codes, classes, marks


def build(recipe: Recipe, fold: tuple[int, int] | None = None) -> SplitDataModule:
    """The DataModule of a folder or a table of clips."""
    p = section(recipe.data, AudioData)
    source = Path(p.path).expanduser()
    source = existing(p.path, folder=source.is_dir())
    marks = None
    if source.is_dir():
        files, y, classes = class_files(source, AUDIO_EXTENSIONS, "WAV or FLAC clips")
    else:
        files, y, classes, marks = _listed(source, p)
    pre = settings(p)
    x = spectrograms(files, pre)
    info = DataInfo(
        name=source.stem if source.is_file() else source.name,
        source=str(source),
        task=recipe.task.kind,
        input_shape=tuple(x.shape[1:]),
        output_dim=len(classes),
        input_kind="image",
        class_names=classes,
        source_path=str(source),
    )
    info.preprocessing = {"kind": "audio", **pre, "class_names": classes}
    if source.is_file():
        info.preprocessing.update(path_column=p.path_column, target=p.target)
    splits = assign(y, p, stratify=True, labels=marks, fold=fold, names=classes)
    module = build_module(recipe, x, y, splits, info)
    scaler = info.preprocessing["scaler"]
    scale = float(np.ravel(scaler.get("scale", [1.0]))[0]) if scaler["method"] != "none" else 1.0
    module.augment = augmenter(p.augment, pre, scale)
    return module


def read_path(path: Path, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    """A WAV file, or a folder of them (in subfolders named after classes: labelled), as the run's inputs."""
    if path.is_file() and path.suffix.lower() not in AUDIO_EXTENSIONS:  # a table of clips
        frame, _ = read_table(None, path=path, field=field)
        frame.attrs[FOLDER] = str(path.parent)
        return read_rows(frame, recipe, info, field)
    files = files_to_read(path, AUDIO_EXTENSIONS, "WAV or FLAC clips", field)
    y = folder_labels(path, files, info.class_names or [])
    return RawInputs(_inputs(files, info.preprocessing), y, {"path": [str(f) for f in files]})


def read_rows(frame: Any, recipe: Recipe, info: DataInfo, field: str) -> RawInputs:
    """Rows naming clips (the run's path column; what its MLflow model takes) as the run's inputs; labelled
    when the rows hold the run's label column. Relative paths resolve against the table's folder."""
    pre = info.preprocessing
    folder = Path(frame.attrs.get(FOLDER, "."))
    paths = resolved(frame[input_column(frame, pre.get("path_column", "path"), field, "clip path")], folder)
    target = pre.get("target")
    y = None
    if target is not None and target in frame.columns and frame[target].notna().all():
        y = class_codes(frame[target], info.class_names or [], field)
    return RawInputs(_inputs(paths, pre), y, {"path": [str(p) for p in paths]})


def example_rows(recipe: Recipe, info: DataInfo, rows: int = 5) -> Any:
    """The first clips of the training folder as rows of absolute paths: the MLflow model's input example."""
    import pandas as pd

    p = section(recipe.data, AudioData)
    source = Path(p.path).expanduser()
    files = class_files(source, AUDIO_EXTENSIONS, "clips")[0] if source.is_dir() else _listed(source, p)[0]
    return pd.DataFrame({info.preprocessing.get("path_column", "path"): [str(f.resolve()) for f in files[:rows]]})
