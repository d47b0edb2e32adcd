"""Hypothesis strategies for hostile inputs: recipes with mutated values, types, keys and YAML features,
override lists, CSV files of any shape, encoding and quoting, and command lines.

Every case is bounded by construction where the bound is the user's choice (one epoch, one trial): the
contract is about inputs, not about how long a valid recipe may legitimately train.
"""

from __future__ import annotations

import copy
import string
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

#: appended last to every command that may train: it wins over any generated value
BOUNDS = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2"]

SERIES = "month,value\n" + "".join(
    f"{2000 + i // 12}-{i % 12 + 1:02d},{(i % 12) * 1.5 + i * 0.1:.2f}\n" for i in range(72)
)
TABLE = "size,colour,score,label\n" + "".join(
    f"{i % 9},{['red', 'green', 'blue'][i % 3]},{(i * 37) % 100 / 10},{'yes' if (i * 7) % 5 < 2 else 'no'}\n"
    for i in range(80)
)

BASES: dict[str, dict[str, Any]] = {
    "builtin": {
        "name": "fuzz",
        "task": "classification",
        "data": {"kind": "builtin", "name": "iris", "batch_size": 16},
        "model": {"arch": "mlp", "hidden": [8]},
        "optim": {"lr": 0.01},
        "trainer": {"max_epochs": 1},
    },
    "table": {
        "name": "fuzz-table",
        "task": {"kind": "classification"},
        "data": {"kind": "csv", "path": "table.csv", "target": "label", "categorical": "auto"},
        "model": {"arch": "mlp", "hidden": [8]},
        "trainer": {"max_epochs": 1},
    },
    "series": {
        "name": "fuzz-series",
        "task": "forecasting",
        "data": {"kind": "timeseries", "path": "series.csv", "time_column": "month", "target": "value", "window": 6},
        "model": {"arch": "mlp", "hidden": [8]},
        "trainer": {"max_epochs": 1},
    },
    "tune": {
        "name": "fuzz-tune",
        "task": "classification",
        "data": {"kind": "builtin", "name": "iris"},
        "model": {"arch": "mlp", "hidden": [8]},
        "trainer": {"max_epochs": 1},
        "tune": {"trials": 1, "space": {"optim.lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True}}},
    },
}

#: fields a mutation may set besides those of the base recipe
EXTRA_PATHS = [
    "name", "task", "task.kind", "task.label_smoothing", "task.class_weights", "data", "data.kind", "data.name",
    "data.batch_size", "data.val_fraction", "data.test_fraction", "data.seed", "data.impute", "data.drop",
    "data.features", "data.scale", "data.categorical", "data.dates", "data.window", "data.horizon", "data.sep",
    "data.encoding", "data.quoting", "data.target_mode", "data.time_format", "data.max_categories", "model",
    "model.arch", "model.hidden", "model.dropout", "model.activation", "model.init_from", "model.freeze",
    "model.hidden_size", "model.num_layers", "optim", "optim.name", "optim.lr", "optim.weight_decay",
    "optim.betas", "optim.scheduler", "optim.scheduler.name", "optim.scheduler.gamma", "trainer",
    "trainer.max_epochs", "trainer.seed", "trainer.precision", "trainer.monitor", "trainer.early_stopping",
    "trainer.early_stopping.patience", "trainer.gradient_clip_val", "trainer.num_threads", "trainer.devices",
    "trainer.accelerator", "trainer.steps_per_call", "trainer.fast_dev_run", "trainer.deterministic",
    "tracking", "tracking.enabled", "tracking.experiment", "tracking.run_name", "tracking.tags",
    "tracking.log_model", "tune", "tune.trials", "tune.metric", "tune.sampler", "tune.pruner", "tune.space",
    "tune.space.optim.lr", "tune.space.model.dropout", "tune.seed", "extra",
]  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2, 3, 7, 64, 10**6, 2**31, 2**63, 100_000, 100_001]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.5, 1e-300, 5e-324, 1e308, -1e308, 3e38, 1e15]),
    st.text(max_size=20),
    st.sampled_from(["auto", "none", "mlp", "cnn", "gru", "csv", "iris", "val/loss", "val/acc", "32-true",
                     "adam", "sgd", "cosine", "interpolate", "standard", "log1p", "../../etc/passwd", "/dev/null",
                     "", " ", "\x1b[31m", "a" * 300, "label", "value", "month", "table.csv", "series.csv"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(string.ascii_lowercase + "._", max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, str(key)))
            out += _paths(value, (*prefix, str(key)))
    return out


def _set(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = raw
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _delete(raw: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = raw
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


@st.composite
def mutated(draw: st.DrawFn, base: str) -> dict[str, Any]:
    """A base recipe with up to three mutations: a value (or type) changed, a key added, removed or misspelt."""
    raw = copy.deepcopy(BASES[base])
    for _ in range(draw(st.integers(0, 3))):  # none: the base itself, which trains
        paths = _paths(raw) or [("name",)]
        how = draw(st.sampled_from(["set", "set", "set-extra", "delete", "typo", "unknown"]))
        if how == "set":
            _set(raw, draw(st.sampled_from(paths)), draw(VALUES))
        elif how == "set-extra":
            _set(raw, tuple(draw(st.sampled_from(EXTRA_PATHS)).split(".")), draw(VALUES))
        elif how == "delete":
            _delete(raw, draw(st.sampled_from(paths)))
        elif how == "typo":
            path = draw(st.sampled_from(paths))
            node: Any = raw
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and path[-1] in node:
                node[path[-1] + draw(st.sampled_from(["s", "_", "x"]))] = node.pop(path[-1])
        else:
            _set(
                raw,
                (*draw(st.sampled_from(paths))[:1], draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))),
                1,
            )
    return raw


def _bomb(levels: int, width: int) -> str:
    lines = ["  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines)


@st.composite
def recipe_text(draw: st.DrawFn, raw: dict[str, Any]) -> bytes:
    """`raw` as YAML with one of YAML's features or a corruption: styles, tags, anchors, aliases, bombs,
    deep nesting, BOMs, CRLF, tabs, extra documents, bad bytes, truncation."""
    flow = draw(st.booleans())
    try:
        text = yaml.safe_dump(raw, default_flow_style=flow, sort_keys=False, allow_unicode=draw(st.booleans()))
    except yaml.YAMLError:
        text = "name: x\n"
    feature = draw(
        st.sampled_from(
            ["none", "alias", "bomb", "deep", "tag", "bom", "crlf", "tabs", "documents", "bytes", "truncate",
             "duplicate", "merge", "comment"]
        )
    )  # fmt: skip
    if feature == "alias" and not flow and "name:" in text:
        text = text.replace("name: ", "name: &n ", 1) + "tracking: {run_name: *n}\n"
    elif feature == "bomb":
        levels, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
        key = draw(st.sampled_from(["extra", "tracking", "lol"]))
        text += f"{key}:\n{_bomb(levels, width)}\n"
    elif feature == "deep":
        depth = draw(st.sampled_from([10, 63, 64, 65, 200, 3000, 50_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        text += f"extra: {opener * depth}1{closer * depth}\n"
    elif feature == "tag":
        tag = draw(st.sampled_from(["!!str", "!!float", "!!int", "!!binary", "!!timestamp", "!!set", "!!omap",
                                    "!!python/object:os.system", "!custom", "!!null"]))  # fmt: skip
        text = text.replace(": ", f": {tag} ", 1)
    elif feature == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    elif feature == "crlf":
        text = text.replace("\n", "\r\n")
    elif feature == "tabs":
        text = text.replace("  ", "\t")
    elif feature == "documents":
        text = text + "---\n" + text
    elif feature == "bytes":
        data = text.encode()
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif feature == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif feature == "duplicate":
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        text = "".join([*lines[: i + 1], *lines[i:]])
    elif feature == "merge" and not flow:
        text = "base: &b {batch_size: 8}\n" + text.replace("data:\n", "data:\n  <<: *b\n", 1)
    elif feature == "comment":
        text = "# " + draw(st.text(max_size=40)).replace("\n", " ") + "\n" + text
    return text.encode("utf-8", "replace")


CELLS = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "nan", "inf", "-inf", "1e308", "-1e308", "null", "None", "?", " ", "1,5", '"', '""',
                     "a\nb", "é", "\x00", "2020-01-01", "12:30", "yes", "no", "TRUE", "0x1F"]),
    st.text(max_size=8),
)  # fmt: skip


@dataclass
class CsvCase:
    data: bytes
    name: str
    target: str
    extra: list[str] = field(default_factory=list)


@st.composite
def csv_file(draw: st.DrawFn) -> CsvCase:
    """A small delimited file of any shape, encoding and quoting, and the option naming its target."""
    columns = draw(st.integers(1, 5))
    header = draw(
        st.lists(st.sampled_from(["a", "b", "c", "y", "label", "month", "", "a", "x y", "é"]), min_size=columns,
                 max_size=columns)
    )  # fmt: skip
    rows = draw(st.integers(0, 60))
    fill = draw(st.sampled_from(["numbers", "classes", "mixed", "random"]))

    def cell(i: int, j: int) -> str:
        if fill == "numbers":
            return str((i * (j + 3)) % 17)
        if fill == "classes":
            return str((i * (j + 3)) % 17) if j < columns - 1 else ["p", "q"][i % 2]
        if fill == "mixed" and draw(st.integers(0, 9)) > 0:
            return str((i * (j + 5)) % 13)
        return draw(CELLS)

    sep = draw(st.sampled_from([",", ",", "\t", ";", "|"]))
    quoting = draw(st.sampled_from(["plain", "quoted", "broken"]))

    def line(values: list[str]) -> str:
        if quoting == "quoted":
            return sep.join('"' + v.replace('"', '""') + '"' for v in values)
        if quoting == "broken":
            return sep.join(('"' + v) if k == 0 else v for k, v in enumerate(values))
        return sep.join(values)

    text = "\n".join([line(header), *(line([cell(i, j) for j in range(columns)]) for i in range(rows))]) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.encode(encoding, "replace")
    suffix = ".tsv" if sep == "\t" and draw(st.booleans()) else ".csv"
    target = draw(st.sampled_from([*header, "missing", "0", "-1"]))
    extra = draw(st.sampled_from([[], ["--time", header[0]], ["--text", header[0]]]))
    return CsvCase(data, "data" + suffix, target, extra)


RUN_ID = st.text("0123456789abcdef", min_size=32, max_size=32)
PATHS = st.sampled_from(["/dev/null", "/", "/proc/self/status", "nothing.csv", ".", "table.csv", "series.csv",
                         "x" * 300, "/etc/passwd", "a b.csv", "\x1b[2J.csv", "~/none.yaml"])  # fmt: skip


@st.composite
def command_line(draw: st.DrawFn) -> list[str]:
    """A command line from dlkit's commands with junk, missing or hostile arguments and options."""
    word = st.one_of(PATHS, RUN_ID, st.text(max_size=12), st.sampled_from(["iris-mlp", "digits-mlp", "-1", "0"]))
    command = draw(
        st.sampled_from(
            [["train"], ["tune"], ["evaluate"], ["predict"], ["explain"], ["compare"], ["runs", "ls"], ["runs"],
             ["recipes", "show"], ["recipes", "validate"], ["recipes", "cp"], ["init"], ["studies"], ["models"]]
        )
    )  # fmt: skip
    args = [*command, *draw(st.lists(word, max_size=2))]
    options = {
        "--tracking-uri": st.sampled_from(
            [
                "sqlite:///.",
                "sqlite:///nothing/x.db",
                "http://127.0.0.1:1",
                "file:///x",
                "postgresql://u@127.0.0.1:1/x",
                "sqlite:///table.csv",
                "::",
                "sqlite://",
            ]
        ),
        "--storage": st.sampled_from(
            ["table.csv", ".", "nothing/s.journal", "postgresql://u@127.0.0.1:1/x", "sqlite:///table.csv", "mysql://x"]
        ),
        "--trials": st.sampled_from(["-1", "0", "1", "x", "1e9"]),
        "--jobs": st.sampled_from(["0", "-3", "999", "x"]),
        "--folds": st.sampled_from(["0", "1", "-2", "x"]),
        "--target": st.sampled_from(["label", "", "missing", "0"]),
        "-i": PATHS,
        "-o": PATHS,
        "--method": st.sampled_from(["lime", "", "saliency"]),
        "--port": st.sampled_from(["0", "-1", "70000", "x"]),
        "--limit": st.sampled_from(["0", "-1", "x"]),
    }
    for name in draw(st.lists(st.sampled_from(sorted(options)), max_size=3, unique=True)):
        args += [name, draw(options[name])]
    if command[0] in ("train", "tune"):
        args += ["--trials", "1"] if command[0] == "tune" else []
        args += BOUNDS
    return args


OVERRIDE_KEYS = st.one_of(
    st.sampled_from(EXTRA_PATHS), st.text(string.ascii_lowercase + "._[]0123456789", min_size=1, max_size=20)
)
OVERRIDES = st.lists(
    st.one_of(
        st.tuples(
            OVERRIDE_KEYS, VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("..."))
        ).map(lambda kv: f"{kv[0]}={kv[1].strip()}"),
        st.text(max_size=20),
    ),
    min_size=1,
    max_size=3,
)
