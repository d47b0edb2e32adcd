"""The command line: commands, exit codes, messages, and a fast start without heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlkit.cli.app import app
from dlkit.cli.app import run as main
from dlkit.recipe.bundled import bundled_recipes

runner = CliRunner()

HEAVY = ("torch", "lightning", "mlflow", "optuna", "sklearn", "matplotlib", "pandas")


def exit_code(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the real entry point (error handling included) and capture what it prints."""
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_recipes_ls_lists_every_bundled_recipe_one_line_each() -> None:
    result = runner.invoke(app, ["recipes", "ls"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(bundled_recipes())
    assert all(len(line.split()) > 1 for line in lines)


def test_recipes_show_resolves_overrides_and_defaults() -> None:
    result = runner.invoke(app, ["recipes", "show", "digits-cnn", "optim.lr=3e-4"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# dlkit train digits-cnn optim.lr=3e-4\n")
    assert "  lr: 0.0003\n" in result.output
    assert "  max_epochs: 30\n" in result.output
    assert "  precision: 32-true\n" in result.output  # a default the recipe does not set


def test_recipes_show_explain_adds_descriptions() -> None:
    result = runner.invoke(app, ["recipes", "show", "digits-cnn", "--explain"])
    assert result.exit_code == 0
    assert "  lr: 0.002  # Learning rate" in result.output


def test_shown_recipe_round_trips(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["recipes", "show", "wine-mlp", "model.hidden=[7]"]).output
    path = tmp_path / "wine.yaml"
    path.write_text(shown)
    again = runner.invoke(app, ["recipes", "show", str(path)]).output
    assert again.splitlines()[1:] == shown.splitlines()[1:]


def test_recipes_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ntask: classification\ndata: {kind: builtin, name: iris}\nmodel: {arch: mlp, hiden: [3]}\n"
    )
    code, out, err = exit_code(["recipes", "validate", "iris-mlp", str(bad)], capsys)
    assert code == 2
    assert "ok: iris-mlp" in out
    assert "model.hiden: unknown key; did you mean 'hidden'?" in err
    assert "Traceback" not in err


def test_recipes_cp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = exit_code(["recipes", "cp", "iris-mlp", str(tmp_path)], capsys)
    assert code == 0
    copied = tmp_path / "iris-mlp.yaml"
    assert copied.read_text().startswith(f"# dlkit train {copied}\n")
    code, _, err = exit_code(["recipes", "cp", "iris-mlp", str(tmp_path)], capsys)
    assert code == 2 and "already exists" in err


def test_models_lists_each_architecture_with_parameters() -> None:
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for token in ("mlp", "cnn", "hidden", "channels", "kernel_size", "list[int]", "[32, 64]"):
        assert token in result.output


def test_unknown_recipe_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exit_code(["train", "digits-cn"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "error: recipe 'digits-cn' not found: no such file and no bundled recipe of that name",
        "hint: did you mean 'digits-cnn'?",
    ]


def test_bad_override_is_bad_input_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exit_code(["train", "iris-mlp", "optim.lr=-3"], capsys)
    assert code == 2
    assert err.startswith("error: override 'optim.lr=-3' optim.lr: Input should be greater than 0")
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exit_code(["train", "iris-mlp", "--no-such-flag"], capsys)
    assert code == 2 and "No such option" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exit_code(["--version"], capsys)
    assert code == 0 and out.startswith("dlkit ")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["train", "--help"],
        ["recipes", "ls"],
        ["recipes", "show", "digits-cnn", "--explain"],
        ["recipes", "validate", "digits-cnn", "diabetes-mlp"],
        ["models"],
    ],
)
def test_fast_start_imports_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from dlkit.cli.app import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('RESULT', code, *heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    result = [line for line in done.stderr.splitlines() if line.startswith("RESULT")][-1].split()
    assert result[1] in ("0", "None"), done.stderr
    assert result[2:] == [], f"{args} imported {result[2:]}"


@pytest.mark.parametrize("args", [["--help"], ["recipes", "ls"], ["recipes", "--help"]])
def test_commands_without_a_recipe_do_not_import_pydantic(args: list[str]) -> None:
    """What keeps them under the start-up target: nothing on their path validates with pydantic."""
    code, out, loaded = _entry(args)
    assert code == 0 and out and "pydantic" not in loaded, (args, loaded)


def test_python_m_dlkit_works() -> None:
    done = subprocess.run([sys.executable, "-m", "dlkit", "recipes", "ls"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "digits-cnn" in done.stdout


def test_show_output_is_yaml_that_parses() -> None:
    import yaml

    result = runner.invoke(app, ["recipes", "show", "breast-cancer-mlp"])
    data = yaml.safe_load(result.output)
    assert data["task"]["class_weights"] == "balanced"
    json.dumps(data)


def _entry(args: list[str], columns: str = "70", module: str = "dlkit.cli.app") -> tuple[int, str, list[str]]:
    """Run an entry point in a fresh interpreter: exit code, stdout, and which of typer/yaml/pydantic it imported."""
    code, out, _, loaded = _entry_with_stderr(args, columns, module)
    return code, out, loaded


def _entry_with_stderr(
    args: list[str], columns: str = "70", module: str = "dlkit.cli.app", cwd: Path | None = None
) -> tuple[int, str, str, list[str]]:
    code = (
        "import sys\n"
        f"from {module} import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "loaded = [m for m in ('typer', 'yaml', 'pydantic') if m in sys.modules]\n"
        "print('RESULT', code or 0, *loaded, file=sys.stderr)\n"
    )
    env = {**__import__("os").environ, "COLUMNS": columns}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=cwd)
    lines = done.stderr.splitlines()
    result = [line for line in lines if line.startswith("RESULT")][-1].split()
    err = "".join(f"{line}\n" for line in lines if not line.startswith("RESULT"))
    return int(result[1]), done.stdout, err, result[2:]


def test_a_group_alone_prints_its_help() -> None:
    code, out, _ = _entry(["runs"])
    assert code == 0 and out.startswith("Usage: dlkit runs [OPTIONS] COMMAND") and "ls" in out


def test_descriptions_read_without_yaml_match_the_yaml_parser() -> None:
    from dlkit.recipe.bundled import _parsed_description, description

    for path in bundled_recipes().values():
        assert description(path) == _parsed_description(path.read_text(encoding="utf-8").splitlines()), path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("description: Plain words, a comma.\ntask: classification\n", "Plain words, a comma."),
        ("description: 'Quoted: with a colon'\n", "Quoted: with a colon"),
        ("description: >\n  Folded\n  over lines.\n", "Folded over lines."),
        ("description: |\n  First line\n  second line\n", "First line"),
        ("description: starts here\n  and goes on\n", "starts here and goes on"),
        ("description: text # a comment\n", "text"),
        ("task: classification\n", ""),
        ("description: [unclosed\n", "(unreadable)"),
        ("description: a\ndescription: b\n", "b"),
    ],
)
def test_description_falls_back_to_yaml_when_the_line_is_not_plain(tmp_path: Path, text: str, expected: str) -> None:
    from dlkit.recipe.bundled import description

    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    assert description(path) == expected


def test_a_command_that_loaded_torch_ends_with_its_exit_code_and_all_its_output(tmp_path: Path) -> None:
    """The script skips Python's teardown after torch was loaded: exit codes, output and the store stay whole."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = ["--tracking-uri", uri]
    ok = subprocess.run([sys.executable, "-m", "dlkit", "train", "iris-mlp", "trainer.max_epochs=2", *common],
                        capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().splitlines()[-1].startswith("open it")  # the summary's last line, flushed
    failed = subprocess.run(
        [sys.executable, "-m", "dlkit", "train", "diabetes-mlp", "optim.name=sgd", "optim.lr=10", *common],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode == 1 and failed.stderr.startswith("error: "), failed.stderr
    client = MlflowClient(uri)
    statuses = sorted(r.info.status for r in client.search_runs([e.experiment_id for e in client.search_experiments()]))
    assert statuses == ["FAILED", "FINISHED"]


def test_instant_output_into_a_closed_pipe_or_a_full_device() -> None:
    closed = subprocess.Popen([sys.executable, "-m", "dlkit", "recipes", "ls"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
    assert closed.stdout is not None and closed.stderr is not None
    closed.stdout.close()  # `dlkit recipes ls | head -0`
    assert closed.wait(timeout=60) == 0 and closed.stderr.read() == b""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "dlkit", "--help"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: cannot write the output: No space left on device"]
