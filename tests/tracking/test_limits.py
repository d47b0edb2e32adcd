"""MLflow's limits on params, tags and dataset fields hold for wide tables and many long class names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from dlkit.recipe import load
from dlkit.tracking import limits
from dlkit.training import run


def test_shortener_keeps_the_whole_value() -> None:
    s = limits.Shortener()
    assert s.value("tags", "a", "x" * 500, 500) == "x" * 500
    short = s.value("tags", "b", "y" * 501, 500)
    assert len(short) == 500 and short.endswith(f"[full: {limits.ARTIFACT}]")
    assert s.full == {"tags": {"b": "y" * 501}}
    long_a, long_b = s.key("k" * 300 + "a"), s.key("k" * 300 + "b")
    assert len(long_a) == 250 and long_a != long_b


def test_200_long_class_names_and_300_columns_train_to_a_finished_run(tmp_path: Path, tracking_uri: str) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data
    rng = np.random.default_rng(0)
    noisy = x + rng.normal(0, 0.5, x.shape)
    wide = np.concatenate([x, x[:, :60] * x[:, 4:64], noisy, x**2, x[:, :48] + x[:, 16:64]], axis=1)
    assert wide.shape[1] == 300
    frame = pd.DataFrame(wide, columns=[f"measurement_{i:03d}_of_the_scanned_digit_image" for i in range(300)])
    classes = np.arange(len(x)) % 200  # 200 classes, 8 or 9 rows each
    frame["label"] = [f"class-{c:03d}-" + "n" * 30 for c in classes]  # 40-character names
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    quick = ["trainer.max_epochs=1", "model.hidden=[16]", "data.batch_size=256"]
    split = ["data.val_fraction=0.15", "data.test_fraction=0.15"]  # 200 classes need 200 test rows
    recipe = load("csv-mlp", [f"data.path={path}", "data.target=label", *quick, *split])
    result = run(recipe, tracking_uri=tracking_uri, say=lambda _: None, progress_bar=False)
    client = MlflowClient(tracking_uri)
    r = client.get_run(result.run_id)
    assert r.info.status == "FINISHED"
    inputs = r.inputs.dataset_inputs
    balance = [t.value for d in inputs for t in d.tags if t.key == "dlkit.class_balance"]
    assert len(balance) == 3 and all(len(v) <= limits.MAX_DATASET_TAG_VALUE for v in balance)
    assert all(v.endswith(f"[full: {limits.ARTIFACT}]") for v in balance)
    full = json.loads(Path(client.download_artifacts(r.info.run_id, limits.ARTIFACT, str(tmp_path))).read_text())
    whole = next(v for k, group in full.items() if k.endswith("-train") for v in group.values())
    assert whole.count("=") == 200 and "class-199-" + "n" * 30 in whole
    assert all(len(v) <= limits.MAX_PARAM_VALUE for v in r.data.params.values())
