"""Real-world files read right: quoting, Parquet, encodings, duplicate and empty columns, unlabelled rows,
string and date columns typed without a list, values a float32 cannot hold."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlkit import data
from dlkit.data.files import read_table
from dlkit.data.info import DataInfo
from dlkit.data.rows import labels
from dlkit.errors import DataError
from dlkit.recipe import load


def table_recipe(path: Path, target: str, *extra: str) -> object:
    return load("csv-mlp", [f"data.path={path}", f"data.target={target}", *extra])


@pytest.fixture
def sms_frame(sms_path: Path) -> pd.DataFrame:
    return pd.read_csv(sms_path, sep="\t", quoting=csv.QUOTE_NONE)


def test_tab_file_with_quoted_line_breaks_and_doubled_quotes(tmp_path: Path, sms_frame: pd.DataFrame) -> None:
    frame = sms_frame.head(300).copy()
    frame.loc[4, "SMS"] = 'first line\nsecond "quoted" line\twith a tab'
    path = tmp_path / "reviews.tsv"
    frame.to_csv(path, sep="\t", index=False)  # standard quoting: the field is quoted, its quotes doubled
    read, _ = read_table(None, path=path)
    assert len(read) == 300
    assert read.loc[4, "SMS"] == 'first line\nsecond "quoted" line\twith a tab'
    dm = data.build(load("sms-spam-gru", [f"data.path={path}"]))
    assert sum(dm.info.split_sizes.values()) == 300


def test_a_bare_carriage_return_inside_a_field_stays_in_its_row(tmp_path: Path) -> None:
    # pandas writes a tweet's "\r" unquoted; read with any line end, the row would split in two
    frame = pd.DataFrame({"text": ["one", "two\rlines", "three"], "count": [1, 2, 3]})
    path = tmp_path / "tweets.csv"
    frame.to_csv(path, index=False)
    assert b"two\rlines" in path.read_bytes()
    read, _ = read_table(None, path=path)
    assert read["text"].tolist() == ["one", "two\rlines", "three"] and read["count"].tolist() == [1, 2, 3]
    windows = tmp_path / "windows.csv"
    windows.write_bytes(b"text,count\r\none,1\r\ntwo,2\r\n")  # CRLF lines still end where they end
    read, _ = read_table(None, path=windows)
    assert read["text"].tolist() == ["one", "two"] and read["count"].tolist() == [1, 2]


def test_raw_tab_file_keeps_quotes_as_characters(sms_path: Path) -> None:
    read, _ = read_table(None, path=sms_path)  # 54 messages open a quote they never close
    assert len(read) == 5574
    assert read["SMS"].str.startswith('"').sum() == 54


def test_parquet_table(tmp_path: Path, wine_csv: Path) -> None:
    path = tmp_path / "wine.parquet"
    pd.read_csv(wine_csv).to_parquet(path)
    dm = data.build(table_recipe(path, "cultivar"))
    assert dm.info.class_names == ["barbera", "barolo", "grignolino"]
    assert "region=north" in (dm.info.feature_names or [])


def test_duplicate_column_names_are_refused(tmp_path: Path, wine_csv: Path) -> None:
    text = wine_csv.read_text().split("\n", 1)
    path = tmp_path / "dup.csv"
    path.write_text(text[0].replace("alcohol", "ash", 1) + "\n" + text[1])
    with pytest.raises(DataError, match="has two columns named 'ash'"):
        data.build(table_recipe(path, "cultivar"))


def test_encoding_is_named(tmp_path: Path, wine_csv: Path) -> None:
    path = tmp_path / "latin.csv"
    frame = pd.read_csv(wine_csv)
    frame.loc[7, "region"] = "rhône"
    frame.to_csv(path, index=False, encoding="latin-1")
    with pytest.raises(DataError, match=r"is not valid utf-8 text \(line 9") as info:
        data.build(table_recipe(path, "cultivar"))
    assert "data.encoding" in (info.value.hint or "")
    dm = data.build(table_recipe(path, "cultivar", "data.encoding=latin-1"))
    assert "region=rhône" in (dm.info.feature_names or [])


def test_unlabelled_rows_are_dropped_with_a_note(tmp_path: Path, wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    frame.loc[[3, 50, 90], "cultivar"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    dm = data.build(table_recipe(path, "cultivar"))
    assert sum(dm.info.split_sizes.values()) == len(frame) - 3
    assert dm.info.notes == ["dropped 3 row(s) with an empty target 'cultivar' (data.drop_unlabeled)"]
    with pytest.raises(DataError, match="the target is missing in 3 row"):
        data.build(table_recipe(path, "cultivar", "data.drop_unlabeled=false"))


def test_all_empty_column_and_overflow_are_refused(tmp_path: Path, wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    frame["notes"] = np.nan
    path = tmp_path / "empty.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="column\\(s\\) empty in every row: 'notes'"):
        data.build(table_recipe(path, "cultivar"))
    assert data.build(table_recipe(path, "cultivar", "data.drop=[notes]")).info.input_shape == (17,)
    frame = frame.drop(columns="notes")
    frame.loc[5, "proline"] = 1e39
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'proline' holds 1e\\+39 in data row 6, beyond 32-bit floats"):
        data.build(table_recipe(path, "cultivar"))


def test_string_and_date_columns_are_typed_without_a_list(tmp_path: Path, wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    rng = np.random.default_rng(1)
    for i in range(40):  # forty string columns: none needs listing
        frame[f"code_{i}"] = rng.choice(["a", "b", "c"], size=len(frame))
    frame["harvest"] = pd.Timestamp("2020-09-01") + pd.to_timedelta(rng.integers(0, 700, len(frame)), unit="D")
    frame["harvest"] = frame["harvest"].dt.strftime("%Y-%m-%d")
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    dm = data.build(table_recipe(path, "cultivar"))
    pre = dm.info.preprocessing
    assert len(pre["categorical"]) == 41  # region and the forty codes
    assert pre["dates"] == {"harvest": ["year", "month", "day", "day_of_week", "day_of_year"]}
    assert "harvest.month" in (dm.info.feature_names or [])
    with pytest.raises(DataError, match="41 columns are not numeric: 'region', 'code_0'"):
        data.build(table_recipe(path, "cultivar", "data.categorical=[]", "data.dates=[harvest]"))


def test_a_present_but_empty_target_is_no_target(wine_csv: Path) -> None:
    frame = pd.read_csv(wine_csv)
    info = DataInfo("t", "t", "classification", (1,), 3, class_names=["barbera", "barolo", "grignolino"])
    assert labels(frame, "cultivar", info, "--input") is not None
    frame["cultivar"] = np.nan
    assert labels(frame, "cultivar", info, "--input") is None


def test_series_time_from_year_and_quarter_or_a_format(tmp_path: Path, sunspots_path: Path) -> None:
    frame = pd.read_csv(sunspots_path)
    month = pd.to_datetime(frame["Month"])
    quarterly = frame.groupby([month.dt.year, (month.dt.month - 1) // 3 + 1])["Sunspots"].mean()
    table = quarterly.rename_axis(["year", "quarter"]).reset_index()
    table["quarter"] = "Q" + table["quarter"].astype(str)
    path = tmp_path / "quarters.csv"
    table.sample(frac=1.0, random_state=0).to_csv(path, index=False)  # rows out of order: sorted by their time
    series = ["data.window=8", "trainer.max_epochs=1"]
    dm = data.build(load("sunspots-gru", [f"data.path={path}", "data.time_column=[year,quarter]", *series]))
    assert dm.info.preprocessing["periods"]["train"][0].startswith("1749-01-01")
    assert dm.info.preprocessing["periods"]["test"][1].startswith("1983-10-01")
    frame["Month"] = month.dt.strftime("%d.%m.%Y")
    path = tmp_path / "dotted.csv"
    frame.to_csv(path, index=False)
    recipe = load("sunspots-gru", [f"data.path={path}", "data.time_format=%d.%m.%Y", *series])
    assert data.build(recipe).info.preprocessing["periods"]["test"][1].startswith("1983-12-01")
    with pytest.raises(DataError, match=r"data\.time_column: '01\.01\.1749' in data row 1 is not a date"):
        data.build(load("sunspots-gru", [f"data.path={path}", "data.time_format=%Y-%m-%d", *series]))
