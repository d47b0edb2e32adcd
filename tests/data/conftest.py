"""Data files written by the tests from real datasets (scikit-learn's and ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_DATA


@pytest.fixture
def wine_csv(tmp_path: Path) -> Path:
    """Wine as a CSV: string labels, a categorical column, a constant column, a few missing cells."""
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    rng = np.random.default_rng(0)
    frame["region"] = rng.choice(["north", "south", "east"], size=len(frame))
    frame["batch_zero"] = 0.0
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def sms_path() -> Path:
    path = SHARED_DATA / "sms-spam.tsv"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture
def sunspots_path() -> Path:
    path = SHARED_DATA / "monthly-sunspots.csv"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture
def digits_folder(tmp_path: Path) -> Path:
    """scikit-learn's digits written as PNG files, one folder per class (first 40 of each)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path / "digits"
    for label in range(10):
        folder = root / f"digit_{label}"
        folder.mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == label][:40]):
            Image.fromarray((image * 255 / 16).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root


def write_frame(frame: pd.DataFrame, path: Path, **kwargs: object) -> Path:
    frame.to_csv(path, index=False, **kwargs)  # type: ignore[arg-type]
    return path
