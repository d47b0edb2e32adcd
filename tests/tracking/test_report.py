"""`dlkit report` and `dlkit compare -o report.html`: one self-contained page, checked against the store.

Real runs (iris, a few epochs) in a real MLflow store: two learning rates, two seeds of one recipe, a
2-fold cross-validation and a 3-trial study. The page is parsed and its figures compared with what
the MLflow client reads back.
"""

from __future__ import annotations

import base64
import re
import statistics
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from dlkit.numbers import number
from dlkit.recipe import load, load_text
from dlkit.training import run
from dlkit.training.run import run_cv
from dlkit.tuning.study import tune
from tests.conftest import cli
from tests.tuning.test_workers import RECIPE


def quiet(_: str) -> None:
    pass


class Page(HTMLParser):
    """The page's tables (rows of cell texts), image sources and outside references."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.outside: list[str] = []
        self.headings: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("src", "href"):
            value = found.get(key) or ""
            if value and not value.startswith("data:"):
                self.outside.append(value)
        if tag == "img":
            self.images.append(found.get("src") or "")
        if tag in ("script", "link", "iframe"):
            self.outside.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h2":
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "h2" and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)

    def table(self, first_header: str) -> dict[str, list[str]]:
        """The table whose first header cell is `first_header`, as row label -> cells."""
        for rows in self.tables:
            if rows and rows[0] and rows[0][0] == first_header:
                return {row[0]: row[1:] for row in rows[1:]}
        raise AssertionError(f"no table headed {first_header!r}")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("report")
    uri = f"sqlite:///{folder / 'mlflow.db'}"

    def train(*overrides: str) -> str:
        recipe = load("iris-mlp", ["trainer.max_epochs=4", *overrides])
        return run(recipe, tracking_uri=uri, say=quiet, progress_bar=False).run_id

    fast, slow = train("optim.lr=0.02"), train("optim.lr=0.002")
    seed_a, seed_b = train("optim.lr=0.005", "trainer.seed=1"), train("optim.lr=0.005", "trainer.seed=2")
    cv = run_cv(load("iris-mlp", ["trainer.max_epochs=3"]), 2, tracking_uri=uri, say=quiet, progress_bar=False)
    recipe = load_text(RECIPE.replace("max_epochs: 30", "max_epochs: 3"))
    journal = folder / "study.journal"
    tune(recipe, trials=3, storage=str(journal), tracking_uri=uri, say=quiet)
    return {
        "folder": folder, "uri": uri, "fast": fast, "slow": slow, "seeds": [seed_a, seed_b],
        "cv": cv.run_id, "study": recipe.name, "journal": str(journal),
    }  # fmt: skip


def report(store: dict[str, Any], *args: str, name: str = "report.html") -> tuple[Page, Path]:
    output = store["folder"] / name
    done = cli("report", *args, "-o", str(output), "--tracking-uri", store["uri"], cwd=store["folder"])
    assert done.returncode == 0, done.stderr
    assert f"report written to {output}" in done.stdout
    return Page(output.read_text()), output


def test_a_report_compares_runs_seeds_and_folds_as_the_store_holds_them(store: dict[str, Any]) -> None:
    client = MlflowClient(store["uri"])
    page, output = report(store, store["fast"], store["slow"], *store["seeds"], store["cv"])

    # self-contained: styled, every image inline and a real PNG, nothing fetched from anywhere
    text = output.read_text()
    assert "<style>" in text and page.outside == []
    assert len(page.images) >= 5
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    for heading in ("Runs", "Parameters that differ", "Metrics", "Learning curves", "Confusion matrices"):
        assert heading in page.headings
    assert "ROC and precision-recall" in page.headings

    # four columns: two learning rates, the two seeds as one, the cross-validation
    metrics = page.table("metric")
    fast, slow, cv = (client.get_run(r) for r in (store["fast"], store["slow"], store["cv"]))
    seeds = [client.get_run(r) for r in store["seeds"]]
    assert len(metrics["test/acc ↑"]) == 4

    # the key metric of the runs (trainer.monitor val/loss -> test/loss) is the first metric row
    rows = list(metrics)
    assert rows[1] == "test/loss ↓" and rows[0] == "test split"

    acc = metrics["test/acc ↑"]
    assert acc[0] == number(fast.data.metrics["test/acc"]) and acc[1] == number(slow.data.metrics["test/acc"])
    values = [r.data.metrics["test/acc"] for r in seeds]
    assert acc[2] == f"{number(statistics.fmean(values))} ± {number(statistics.stdev(values))}"
    assert acc[3].startswith(number(cv.data.metrics["cv/test/acc_mean"]) + " ±")
    assert acc[3].endswith(number(cv.data.metrics["cv/test/acc_std"]))

    # the best epoch is the one of the monitored metric, counted from 1 like the MLflow steps
    history = client.get_metric_history(store["fast"], "val/loss")
    assert [p.step for p in history] == [1, 2, 3, 4]
    best = min(history, key=lambda p: p.value)
    assert metrics["best epoch"][0] == str(best.step)
    assert metrics["val/loss ↓"][0] == number(best.value)

    # the seed group is one column, named after its runs without their seed
    assert re.search(r"iris-mlp(-\d)? ×2 seeds", text) and not re.search(r"seed=\d ×2", text)

    # only what differs, a seed group showing its seeds; the best value of a row marked
    params = page.table("parameter")
    assert params["optim.lr"] == ["0.02", "0.002", "0.005", "0.01"]
    assert params["trainer.seed"][2] == "1, 2"
    assert "optim.name" not in params and "data.eval_batch_size" not in params
    assert re.search(r"<td class=best>[^<]*</td>", text)

    # the confusion matrices count the test split: 30 iris rows per run, the seeds and the folds summed
    counts = [
        sum(int(c) for row in rows[1:] for c in row[1:])
        for rows in page.tables
        if rows and rows[0][0] == "true \\ predicted"
    ]
    assert counts == [30, 30, 60, 150]


def test_a_study_report_shows_the_study_and_its_best_trials(store: dict[str, Any]) -> None:
    client = MlflowClient(store["uri"])
    page, _ = report(store, store["study"], "--top", "2", name="study.html")
    assert f"Study '{store['study']}'" in page.headings
    assert len(page.images) >= 5  # optimisation history, importances, parallel coordinates, curves, ROC/PR
    trials = page.table("trial")
    assert len(trials) == 3
    parent = next(
        r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
        if r.data.tags.get("dlkit.study") == store["study"] and "dlkit.trial" not in r.data.tags
    )  # fmt: skip
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    by_trial = {int(r.data.tags["dlkit.trial"]): r.info.run_id for r in children}
    study = optuna.load_study(study_name=store["study"], storage=JournalStorage(JournalFileBackend(store["journal"])))
    ranked = sorted(study.trials, key=lambda t: (-(t.value or 0.0), t.number))  # val/acc is maximised
    runs = page.table("")
    assert runs["run id"] == [by_trial[t.number] for t in ranked[:2]]  # the best two trials, best first


def test_compare_writes_the_report_and_bad_targets_leave_no_file(store: dict[str, Any]) -> None:
    folder, uri = store["folder"], store["uri"]
    output = folder / "compare.html"
    done = cli("compare", store["fast"], store["slow"], "-o", str(output), "--tracking-uri", uri, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "Learning curves" in Page(output.read_text()).headings

    missing = folder / "missing.html"
    bad = cli("report", store["fast"], "no-such-thing", "-o", str(missing), "--tracking-uri", uri, cwd=folder)
    assert bad.returncode == 2 and "no-such-thing: neither a run id nor a study name" in bad.stderr
    assert not missing.exists()
    wrong = cli("report", store["fast"], "-o", str(folder / "r.pdf"), "--tracking-uri", uri, cwd=folder)
    assert wrong.returncode == 2 and "--output" in wrong.stderr and not (folder / "r.pdf").exists()
    empty = cli("report", "--tracking-uri", uri, cwd=folder)
    assert empty.returncode == 2 and "report needs run ids" in empty.stderr
